output "cluster_name" {
  description = "Name of the AKS cluster."
  value       = module.aks.aks_name
}

output "resource_group_name" {
  description = "Resource group holding the cluster."
  value       = azurerm_resource_group.this.name
}

output "oidc_issuer_url" {
  description = "OIDC issuer of the cluster, trusted by the workload identities."
  value       = module.aks.oidc_issuer_url
}

output "backup_storage_account" {
  description = "Storage account for CloudNativePG backups."
  value       = azurerm_storage_account.backups.name
}

output "backup_container" {
  description = "Blob container for CloudNativePG backups (destinationPath https://<account>.blob.core.windows.net/<container>)."
  value       = azurerm_storage_container.backups.name
}

output "backup_client_id" {
  description = "Client ID to put in the azure.workload.identity/client-id annotation of the PostgreSQL service account."
  value       = azurerm_user_assigned_identity.backups.client_id
}

output "restore_client_id" {
  description = "Client ID to put in the azure.workload.identity/client-id annotation of the restore drill's service account (reads the backups, never writes)."
  value       = azurerm_user_assigned_identity.restore.client_id
}
