variable "environment" {
  description = "Environment name, added as a tag to every resource."
  type        = string
}

variable "region" {
  description = "AWS region of the cluster."
  type        = string
}

variable "availability_zones" {
  description = "The three availability zones of the region to spread the cluster over."
  type        = list(string)
}

variable "name" {
  description = "Cluster name."
  type        = string
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the control plane."
  type        = string
}

variable "api_public_access" {
  description = "Expose the API server publicly, restricted to api_allowed_cidrs."
  type        = bool
}

variable "api_allowed_cidrs" {
  description = "Public CIDRs allowed to reach the API server when api_public_access is true."
  type        = list(string)
}

variable "cluster_admin_arns" {
  description = "IAM role or user ARNs granted cluster-admin."
  type        = list(string)
}

variable "workload_instance_types" {
  description = "Instance types of the workload node groups."
  type        = list(string)
}

variable "workload_nodes_per_zone" {
  description = "Minimum and maximum size of each per-zone workload node group."
  type        = object({ min = number, max = number })
}

variable "backup_bucket_name" {
  description = "S3 bucket for CloudNativePG backups (globally unique)."
  type        = string
}
