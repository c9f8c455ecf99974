variable "subscription_id" {
  description = "Azure subscription the environment lives in."
  type        = string
}

variable "environment" {
  description = "Environment name, added as a tag to every resource."
  type        = string
}

variable "location" {
  description = "Azure region with availability zones."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group created for the environment."
  type        = string
}

variable "name" {
  description = "Cluster name."
  type        = string
}

variable "sku_tier" {
  description = "AKS control-plane tier (Standard or Premium carry the uptime SLA)."
  type        = string
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the cluster."
  type        = string
}

variable "private_cluster" {
  description = "Give the API server a private address only."
  type        = bool
}

variable "api_allowed_cidrs" {
  description = "Public CIDRs allowed to reach the API server when the cluster is not private."
  type        = list(string)
}

variable "admin_group_object_ids" {
  description = "Entra ID groups whose members are cluster administrators."
  type        = list(string)
}

variable "workload_vm_size" {
  description = "VM size of the workload node pool."
  type        = string
}

variable "workload_node_count" {
  description = "Minimum and maximum size of the workload node pool."
  type        = object({ min = number, max = number })
}

variable "key_vault_name" {
  description = "Key vault holding the etcd encryption key (globally unique)."
  type        = string
}

variable "backup_storage_account_name" {
  description = "Storage account for CloudNativePG backups (globally unique)."
  type        = string
}
