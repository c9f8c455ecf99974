# Replace with the subscription that hosts this environment.
subscription_id     = "00000000-0000-0000-0000-000000000000"
environment         = "prod"
location            = "westeurope"
resource_group_name = "platform-prod"
name                = "platform-prod"
kubernetes_version  = "1.33"

# Uptime SLA tier (99.95 % with availability zones), the base of docs/cloud.md.
sku_tier = "Standard"

# Private API endpoint only: reach it over the VPN / peered network listed here.
private_cluster   = true
api_allowed_cidrs = ["10.0.0.0/8"]

# Replace with the Entra ID group of the platform operators.
admin_group_object_ids = ["00000000-0000-0000-0000-000000000000"]

workload_vm_size    = "Standard_D8ds_v5"
workload_node_count = { min = 3, max = 12 }

key_vault_name              = "platform-prod-etcd-kv"
backup_storage_account_name = "platformprodpgbackups"
