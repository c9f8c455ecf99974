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
