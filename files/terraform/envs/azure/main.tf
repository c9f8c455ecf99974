provider "azurerm" {
  subscription_id = var.subscription_id
  # Storage accounts here refuse shared keys: use Entra ID for data-plane calls too.
  storage_use_azuread = true

  features {}
}

module "cluster" {
  source = "../../modules/aks"

  name                        = var.name
  location                    = var.location
  resource_group_name         = var.resource_group_name
  sku_tier                    = var.sku_tier
  kubernetes_version          = var.kubernetes_version
  private_cluster             = var.private_cluster
  api_allowed_cidrs           = var.api_allowed_cidrs
  admin_group_object_ids      = var.admin_group_object_ids
  workload_vm_size            = var.workload_vm_size
  workload_node_count         = var.workload_node_count
  key_vault_name              = var.key_vault_name
  backup_storage_account_name = var.backup_storage_account_name
  tags = {
    project     = "sre-platform"
    environment = var.environment
    managed-by  = "terraform"
  }
}
