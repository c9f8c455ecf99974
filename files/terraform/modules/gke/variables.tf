variable "project_id" {
  description = "Google Cloud project that holds the cluster, its network, keys and backups."
  type        = string
}

variable "name" {
  description = "Cluster name; also the prefix of every resource this module creates."
  type        = string

  validation {
    # 19 at most: "<name>-pg-backups" must fit a service account id (30 characters).
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}$", var.name))
    error_message = "name must be 2-19 lowercase letters, digits or dashes, starting with a letter (it prefixes service account ids of at most 30 characters)."
  }
}

variable "region" {
  description = "Region of the regional cluster (control plane replicated across the region's zones)."
  type        = string
}

variable "zones" {
  description = "The three zones of the region the node pools are spread over."
  type        = list(string)

  validation {
    condition     = length(var.zones) == 3 && length(distinct(var.zones)) == 3
    error_message = "zones must name exactly three distinct zones."
  }
}

variable "release_channel" {
  description = "GKE release channel: REGULAR (default) or STABLE; the channel picks and patches the Kubernetes version."
  type        = string
  default     = "REGULAR"

  validation {
    condition     = contains(["REGULAR", "STABLE"], var.release_channel)
    error_message = "release_channel must be REGULAR or STABLE."
  }
}

variable "subnet_cidr" {
  description = "Primary range of the nodes' subnet."
  type        = string
  default     = "10.60.0.0/20"
}

variable "pods_cidr" {
  description = "Secondary range for pod addresses (VPC-native cluster)."
  type        = string
  default     = "10.64.0.0/14"
}

variable "services_cidr" {
  description = "Secondary range for service addresses."
  type        = string
  default     = "10.68.0.0/20"
}

variable "master_cidr" {
  description = "/28 range for the control plane's private endpoint."
  type        = string
  default     = "172.16.0.0/28"
}

variable "private_endpoint" {
  description = "Serve the API server on its private address only (reachable from the VPC or peered networks)."
  type        = bool
  default     = false
}

variable "api_allowed_cidrs" {
  description = "CIDRs allowed to reach the API server (master authorized networks): operators and CI."
  type        = list(string)
  default     = []

  validation {
    condition     = !contains(var.api_allowed_cidrs, "0.0.0.0/0")
    error_message = "api_allowed_cidrs must not contain 0.0.0.0/0: list the operators' and CI's addresses."
  }
}

variable "system_machine_type" {
  description = "Machine type of the dedicated system node pool (tainted CriticalAddonsOnly)."
  type        = string
  default     = "e2-standard-4"
}

variable "system_nodes_per_zone" {
  description = "Minimum and maximum number of system nodes in each zone."
  type        = object({ min = number, max = number })
  default     = { min = 1, max = 2 }
}

variable "workload_machine_type" {
  description = "Machine type of the workload node pool (services and PostgreSQL)."
  type        = string
  default     = "e2-standard-8"
}

variable "workload_nodes_per_zone" {
  description = "Minimum and maximum number of workload nodes in each zone."
  type        = object({ min = number, max = number })
  default     = { min = 1, max = 4 }
}

variable "backup_bucket_name" {
  description = "Name of the Cloud Storage bucket for CloudNativePG backups (globally unique)."
  type        = string
}

variable "backup_location" {
  description = "Location of the backup bucket: a multi-region or dual-region keeps backups when the cluster's region is lost."
  type        = string
  default     = "EU"
}

variable "backup_key_location" {
  description = "Cloud KMS location of the backup bucket's key; must match backup_location (EU -> europe, US -> us, a region -> the same region)."
  type        = string
  default     = "europe"
}

variable "deletion_protection" {
  description = "Refuse to delete the cluster from Terraform (set false only to tear the environment down)."
  type        = bool
  default     = true
}

variable "backup_retention_days" {
  description = "Days a replaced or deleted backup object version is kept."
  type        = number
  default     = 30
}

variable "backup_namespace" {
  description = "Namespace of the PostgreSQL cluster whose service account may write backups."
  type        = string
  default     = "databases"
}

variable "backup_service_account" {
  description = "Service account of the PostgreSQL cluster (CloudNativePG names it after the Cluster)."
  type        = string
  default     = "pg-main"
}

variable "restore_service_account" {
  description = "Service account of the restore drill's Cluster (cloudnative_pg_restore_cluster_name), which reads the backups back."
  type        = string
  default     = "pg-main-restore"

  validation {
    condition     = var.restore_service_account != var.backup_service_account
    error_message = "restore_service_account must differ from backup_service_account: the drill restores into a Cluster of its own."
  }
}

variable "labels" {
  description = "Labels added to every resource that takes them."
  type        = map(string)
  default     = {}
}
