output "cluster_name" {
  description = "Name of the GKE cluster."
  value       = module.gke.name
}

output "location" {
  description = "Region of the cluster."
  value       = module.gke.location
}

output "endpoint" {
  description = "Address of the Kubernetes API server."
  value       = module.gke.endpoint
  sensitive   = true
}

output "backup_bucket" {
  description = "Cloud Storage bucket for CloudNativePG backups (destinationPath gs://<bucket>/)."
  value       = google_storage_bucket.backups.name
}

output "backup_service_account_email" {
  description = "Google service account to put in the iam.gke.io/gcp-service-account annotation of the PostgreSQL service account."
  value       = google_service_account.backups.email
}

output "restore_service_account_email" {
  description = "Google service account to put in the iam.gke.io/gcp-service-account annotation of the restore drill's service account (reads the backups, never writes)."
  value       = google_service_account.restore.email
}
