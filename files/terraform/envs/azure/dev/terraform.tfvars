# Replace with the subscription that hosts this environment.
subscription_id     = "00000000-0000-0000-0000-000000000000"
environment         = "dev"
location            = "westeurope"
resource_group_name = "platform-dev"
name                = "platform-dev"
kubernetes_version  = "1.33"

# No uptime SLA: dev is rebuilt at will and carries no SLO.
sku_tier = "Free"

# Public API endpoint restricted to the operators' range (documentation range: replace it).
private_cluster   = false
api_allowed_cidrs = ["203.0.113.0/24"]

# Replace with the Entra ID group of the platform operators.
admin_group_object_ids = ["00000000-0000-0000-0000-000000000000"]

workload_vm_size    = "Standard_D4ds_v5"
workload_node_count = { min = 3, max = 6 }

key_vault_name              = "platform-dev-etcd-kv"
backup_storage_account_name = "platformdevpgbackups"
