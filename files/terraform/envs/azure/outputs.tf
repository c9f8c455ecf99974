output "cluster_name" {
  description = "Name of the AKS cluster."
  value       = module.cluster.cluster_name
}

output "kubeconfig_command" {
  description = "Commands that write a kubeconfig context for this cluster (Entra ID login through kubelogin)."
  value       = "az aks get-credentials --resource-group ${module.cluster.resource_group_name} --name ${module.cluster.cluster_name} && kubelogin convert-kubeconfig -l azurecli"
}

output "backup_storage_account" {
  description = "Storage account for CloudNativePG backups."
  value       = module.cluster.backup_storage_account
}

output "backup_container" {
  description = "Blob container for CloudNativePG backups."
  value       = module.cluster.backup_container
}

output "backup_client_id" {
  description = "Client ID for the azure.workload.identity/client-id annotation of the PostgreSQL service account."
  value       = module.cluster.backup_client_id
}

output "restore_client_id" {
  description = "Client ID for the azure.workload.identity/client-id annotation of the restore drill's service account (read-only)."
  value       = module.cluster.restore_client_id
}

output "resource_group_name" {
  description = "Resource group of the cluster (the cloud_cluster role passes it to az aks get-credentials)."
  value       = module.cluster.resource_group_name
}
