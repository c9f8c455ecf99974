variable "name" {
  description = "Cluster name; also the prefix of every resource this module creates."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}$", var.name))
    error_message = "name must be 2-39 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "location" {
  description = "Azure region; it must offer availability zones (the node pools span three)."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group created for the cluster, its network, key vault and backups."
  type        = string
}

variable "availability_zones" {
  description = "The three availability zones the node pools are spread over."
  type        = list(string)
  default     = ["1", "2", "3"]

  validation {
    condition     = length(var.availability_zones) == 3 && length(distinct(var.availability_zones)) == 3
    error_message = "availability_zones must name exactly three distinct zones."
  }
}

variable "sku_tier" {
  description = "Control-plane tier: Standard (99.95 % uptime SLA with availability zones) or Premium (Standard plus long-term support); Free has no SLA and suits only throwaway environments."
  type        = string
  default     = "Standard"

  validation {
    condition     = contains(["Free", "Standard", "Premium"], var.sku_tier)
    error_message = "sku_tier must be Free, Standard or Premium."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes minor version; patches are applied by the cluster's automatic 'patch' upgrade channel."
  type        = string
  default     = "1.33"
}

variable "vnet_cidr" {
  description = "Address space of the virtual network (nodes and private endpoints get a subnet each)."
  type        = string
  default     = "10.50.0.0/16"
}

variable "pod_cidr" {
  description = "Overlay CIDR for pod addresses (Azure CNI overlay: not routable outside the cluster)."
  type        = string
  default     = "192.168.0.0/16"
}

variable "service_cidr" {
  description = "CIDR for Kubernetes service addresses; the DNS service takes its tenth address."
  type        = string
  default     = "10.251.0.0/16"
}

variable "private_cluster" {
  description = "Give the API server a private address only (reachable from the virtual network or peered networks)."
  type        = bool
  default     = false
}

variable "api_allowed_cidrs" {
  description = "Public CIDRs allowed to reach the API server and the key vault when the cluster is not private."
  type        = list(string)
  default     = []

  validation {
    condition     = !contains(var.api_allowed_cidrs, "0.0.0.0/0")
    error_message = "api_allowed_cidrs must not contain 0.0.0.0/0: list the operators' and CI's addresses."
  }
}

variable "admin_group_object_ids" {
  description = "Entra ID group object IDs whose members are cluster administrators (local accounts are disabled)."
  type        = list(string)
}

variable "system_vm_size" {
  description = "VM size of the dedicated system node pool (tainted CriticalAddonsOnly)."
  type        = string
  default     = "Standard_D4ds_v5"
}

variable "system_node_count" {
  description = "Minimum and maximum size of the system node pool, spread over three zones (keep the minimum >= 3)."
  type        = object({ min = number, max = number })
  default     = { min = 3, max = 6 }

  validation {
    condition     = var.system_node_count.min >= 3 && var.system_node_count.max >= var.system_node_count.min
    error_message = "system_node_count.min must be at least 3 (one per zone) and max >= min."
  }
}

variable "workload_vm_size" {
  description = "VM size of the workload node pool (services and PostgreSQL)."
  type        = string
  default     = "Standard_D8ds_v5"
}

variable "workload_node_count" {
  description = "Minimum and maximum size of the workload node pool, spread over three zones."
  type        = object({ min = number, max = number })
  default     = { min = 3, max = 12 }

  validation {
    condition     = var.workload_node_count.min >= 3 && var.workload_node_count.max >= var.workload_node_count.min
    error_message = "workload_node_count.min must be at least 3 (one per zone) and max >= min."
  }
}

variable "host_encryption" {
  description = "Encrypt node temp disks and caches at the host (the subscription must have the EncryptionAtHost feature)."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Retention of the control plane logs in the Log Analytics workspace, in days."
  type        = number
  default     = 90
}

variable "key_vault_name" {
  description = "Name of the key vault holding the key that encrypts Kubernetes secrets in etcd (globally unique, 3-24 characters)."
  type        = string
}

variable "backup_storage_account_name" {
  description = "Name of the storage account for CloudNativePG backups (globally unique, 3-24 lowercase letters and digits)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]{3,24}$", var.backup_storage_account_name))
    error_message = "backup_storage_account_name must be 3-24 lowercase letters and digits."
  }
}

variable "backup_container_name" {
  description = "Blob container that receives the base backups and WAL archive."
  type        = string
  default     = "pg-backups"
}

variable "backup_retention_days" {
  description = "Days a deleted or overwritten backup blob stays recoverable (soft delete)."
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
