output "cluster_name" {
  description = "Name of the GKE cluster."
  value       = module.cluster.cluster_name
}

output "kubeconfig_command" {
  description = "Command that writes a kubeconfig context for this cluster."
  value       = "gcloud container clusters get-credentials ${module.cluster.cluster_name} --region ${module.cluster.location} --project ${var.project_id}${var.private_endpoint ? " --internal-ip" : ""}"
}

output "backup_bucket" {
  description = "Cloud Storage bucket for CloudNativePG backups."
  value       = module.cluster.backup_bucket
}

output "backup_service_account_email" {
  description = "Google service account for the iam.gke.io/gcp-service-account annotation of the PostgreSQL service account."
  value       = module.cluster.backup_service_account_email
}

output "restore_service_account_email" {
  description = "Google service account for the iam.gke.io/gcp-service-account annotation of the restore drill's service account (read-only)."
  value       = module.cluster.restore_service_account_email
}

output "location" {
  description = "Region of the cluster (the cloud_cluster role passes it to gcloud container clusters get-credentials)."
  value       = module.cluster.location
}

output "project_id" {
  description = "Project of the cluster."
  value       = var.project_id
}

output "private_endpoint" {
  description = "Whether the API server is reachable on its private address only (get-credentials --internal-ip)."
  value       = var.private_endpoint
}
