variable "name" {
  description = "Cluster name; also the prefix of every resource this module creates."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}$", var.name))
    error_message = "name must be 2-39 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "availability_zones" {
  description = "The three availability zones of the region to spread subnets, NAT gateways and nodes over (listed, so the set never changes by itself)."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) == 3 && length(distinct(var.availability_zones)) == 3
    error_message = "availability_zones must name exactly three distinct zones."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the control plane (EKS supports each minor for 14 months in standard support)."
  type        = string
  default     = "1.33"
}

variable "vpc_cidr" {
  description = "CIDR of the VPC; split into public, private (nodes) and intra (control plane ENIs) subnets in three zones."
  type        = string
  default     = "10.40.0.0/16"
}

variable "api_public_access" {
  description = "Expose the API server on a public endpoint restricted to api_allowed_cidrs. False keeps it private to the VPC."
  type        = bool
  default     = false
}

variable "api_allowed_cidrs" {
  description = "Public CIDRs allowed to reach the API server when api_public_access is true (operators, CI runners)."
  type        = list(string)
  default     = []

  validation {
    condition     = !contains(var.api_allowed_cidrs, "0.0.0.0/0")
    error_message = "api_allowed_cidrs must not contain 0.0.0.0/0: list the operators' and CI's addresses."
  }
}

variable "cluster_admin_arns" {
  description = "IAM role or user ARNs granted cluster-admin through EKS access entries."
  type        = list(string)
  default     = []
}

variable "system_instance_types" {
  description = "Instance types of the dedicated system node group (CoreDNS, operators, monitoring)."
  type        = list(string)
  default     = ["m6i.large"]
}

variable "system_node_count" {
  description = "Minimum and maximum size of the system node group, spread over three zones (keep the minimum >= 3)."
  type        = object({ min = number, max = number })
  default     = { min = 3, max = 6 }

  validation {
    condition     = var.system_node_count.min >= 3 && var.system_node_count.max >= var.system_node_count.min
    error_message = "system_node_count.min must be at least 3 (one per zone) and max >= min."
  }
}

variable "workload_instance_types" {
  description = "Instance types of the workload node groups (services and PostgreSQL)."
  type        = list(string)
  default     = ["m6i.xlarge"]
}

variable "workload_nodes_per_zone" {
  description = "Minimum and maximum size of each per-zone workload node group (one group per zone keeps zonal EBS volumes schedulable)."
  type        = object({ min = number, max = number })
  default     = { min = 1, max = 5 }

  validation {
    condition     = var.workload_nodes_per_zone.min >= 1 && var.workload_nodes_per_zone.max >= var.workload_nodes_per_zone.min
    error_message = "workload_nodes_per_zone.min must be at least 1 and max >= min."
  }
}

variable "log_retention_days" {
  description = "Retention of the control plane logs and VPC flow logs in CloudWatch, in days."
  type        = number
  default     = 90
}

variable "backup_bucket_name" {
  description = "Name of the S3 bucket that receives the CloudNativePG base backups and WAL archive (globally unique)."
  type        = string
}

variable "backup_retention_days" {
  description = "Days a replaced or deleted backup object version is kept before it expires."
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

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
