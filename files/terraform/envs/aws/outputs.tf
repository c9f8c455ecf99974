output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = module.cluster.cluster_name
}

output "cluster_endpoint" {
  description = "Endpoint of the Kubernetes API server."
  value       = module.cluster.cluster_endpoint
}

output "kubeconfig_command" {
  description = "Command that writes a kubeconfig context for this cluster."
  value       = "aws eks update-kubeconfig --region ${var.region} --name ${module.cluster.cluster_name}"
}

output "backup_bucket" {
  description = "S3 bucket for CloudNativePG backups."
  value       = module.cluster.backup_bucket
}

output "backup_role_arn" {
  description = "IAM role for the eks.amazonaws.com/role-arn annotation of the PostgreSQL service account."
  value       = module.cluster.backup_role_arn
}

output "restore_role_arn" {
  description = "IAM role for the eks.amazonaws.com/role-arn annotation of the restore drill's service account (read-only)."
  value       = module.cluster.restore_role_arn
}

output "region" {
  description = "Region of the cluster (the cloud_cluster role passes it to aws eks update-kubeconfig)."
  value       = var.region
}
