# Storage for the CloudNativePG backups: zone- and geo-redundant, versioned
# with soft delete, no shared keys, reachable only through a private endpoint
# in the cluster's network, writable only by the database's service account and
# readable by the restore drill's, each with an identity of its own (Azure
# workload identity).

resource "azurerm_storage_account" "backups" {
  name                     = var.backup_storage_account_name
  location                 = azurerm_resource_group.this.location
  resource_group_name      = azurerm_resource_group.this.name
  account_kind             = "StorageV2"
  account_tier             = "Standard"
  account_replication_type = "GZRS"

  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  infrastructure_encryption_enabled = true
  shared_access_key_enabled         = false
  default_to_oauth_authentication   = true
  allow_nested_items_to_be_public   = false
  public_network_access_enabled     = false
  local_user_enabled                = false
  tags                              = var.tags

  blob_properties {
    versioning_enabled = true

    delete_retention_policy {
      days = var.backup_retention_days
    }

    container_delete_retention_policy {
      days = var.backup_retention_days
    }
  }

  sas_policy {
    expiration_period = "00.01:00:00"
  }

  network_rules {
    default_action = "Deny"
    bypass         = ["AzureServices"]
  }
}

# Every read, write and delete of a backup blob is logged.
resource "azurerm_monitor_diagnostic_setting" "backups_blob" {
  name                       = "blob-access"
  target_resource_id         = "${azurerm_storage_account.backups.id}/blobServices/default"
  log_analytics_workspace_id = azurerm_log_analytics_workspace.this.id

  dynamic "enabled_log" {
    for_each = ["StorageRead", "StorageWrite", "StorageDelete"]

    content {
      category = enabled_log.value
    }
  }
}

resource "azurerm_storage_container" "backups" {
  name                  = var.backup_container_name
  storage_account_id    = azurerm_storage_account.backups.id
  container_access_type = "private"
}

resource "azurerm_private_dns_zone" "blob" {
  name                = "privatelink.blob.core.windows.net"
  resource_group_name = azurerm_resource_group.this.name
  tags                = var.tags
}

resource "azurerm_private_dns_zone_virtual_network_link" "blob" {
  name                  = "${var.name}-blob"
  resource_group_name   = azurerm_resource_group.this.name
  private_dns_zone_name = azurerm_private_dns_zone.blob.name
  virtual_network_id    = azurerm_virtual_network.this.id
  tags                  = var.tags
}

resource "azurerm_private_endpoint" "backups" {
  name                = "${var.name}-backups-blob"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  subnet_id           = azurerm_subnet.endpoints.id
  tags                = var.tags

  private_service_connection {
    name                           = "blob"
    private_connection_resource_id = azurerm_storage_account.backups.id
    subresource_names              = ["blob"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "blob"
    private_dns_zone_ids = [azurerm_private_dns_zone.blob.id]
  }
}

# The Cluster's identity writes the backups (and expires them by Barman Cloud's
# retention policy).
resource "azurerm_user_assigned_identity" "backups" {
  name                = "${var.name}-pg-backups"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  tags                = var.tags
}

# A credential matches exactly one subject: the Cluster's service account.
resource "azurerm_federated_identity_credential" "backups" {
  name                = "${var.backup_namespace}-${var.backup_service_account}"
  resource_group_name = azurerm_resource_group.this.name
  parent_id           = azurerm_user_assigned_identity.backups.id
  issuer              = module.aks.oidc_issuer_url
  subject             = "system:serviceaccount:${var.backup_namespace}:${var.backup_service_account}"
  audience            = ["api://AzureADTokenExchange"]
}

# The Cluster's credential is kept, not recreated; the one the restore drill
# had on this identity is destroyed.
moved {
  from = azurerm_federated_identity_credential.backups["cluster"]
  to   = azurerm_federated_identity_credential.backups
}

resource "azurerm_role_assignment" "backups_writer" {
  scope                = azurerm_storage_container.backups.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.backups.principal_id
}

# The restore drill's identity only reads: its Cluster archives no WAL and
# takes no backups, so neither the drill nor the restored copy can change one.
resource "azurerm_user_assigned_identity" "restore" {
  name                = "${var.name}-pg-restore"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  tags                = var.tags
}

resource "azurerm_federated_identity_credential" "restore" {
  name                = "${var.backup_namespace}-${var.restore_service_account}"
  resource_group_name = azurerm_resource_group.this.name
  parent_id           = azurerm_user_assigned_identity.restore.id
  issuer              = module.aks.oidc_issuer_url
  subject             = "system:serviceaccount:${var.backup_namespace}:${var.restore_service_account}"
  audience            = ["api://AzureADTokenExchange"]
}

resource "azurerm_role_assignment" "restore_reader" {
  scope                = azurerm_storage_container.backups.id
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = azurerm_user_assigned_identity.restore.principal_id
}
