variable "project_id" {
  description = "Google Cloud project of the environment."
  type        = string
}

variable "environment" {
  description = "Environment name, added as a label to every resource."
  type        = string
}

variable "region" {
  description = "Region of the regional cluster."
  type        = string
}

variable "zones" {
  description = "The three zones of the region the node pools span."
  type        = list(string)
}

variable "name" {
  description = "Cluster name."
  type        = string
}

variable "release_channel" {
  description = "GKE release channel (REGULAR or STABLE)."
  type        = string
}

variable "private_endpoint" {
  description = "Serve the API server on its private address only."
  type        = bool
}

variable "api_allowed_cidrs" {
  description = "CIDRs allowed to reach the API server (master authorized networks)."
  type        = list(string)
}

variable "workload_machine_type" {
  description = "Machine type of the workload node pool."
  type        = string
}

variable "workload_nodes_per_zone" {
  description = "Minimum and maximum number of workload nodes in each zone."
  type        = object({ min = number, max = number })
}

variable "deletion_protection" {
  description = "Refuse to delete the cluster from Terraform."
  type        = bool
}

variable "backup_bucket_name" {
  description = "Cloud Storage bucket for CloudNativePG backups (globally unique)."
  type        = string
}
