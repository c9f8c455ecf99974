# AKS on the Standard tier (financially backed 99.95 % API server SLA with
# availability zones), a dedicated system pool and a workload pool, each
# spread over three zones, autoscaled and upgraded by surge.

data "azurerm_client_config" "current" {}

locals {
  nodes_subnet_cidr     = cidrsubnet(var.vnet_cidr, 4, 0)
  endpoints_subnet_cidr = cidrsubnet(var.vnet_cidr, 8, 240)
  # One extra node per three during upgrades: capacity never drops below the PodDisruptionBudgets.
  max_surge = "33%"
}

resource "azurerm_resource_group" "this" {
  name     = var.resource_group_name
  location = var.location
  tags     = var.tags
}

resource "azurerm_virtual_network" "this" {
  name                = "${var.name}-vnet"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  address_space       = [var.vnet_cidr]
  tags                = var.tags
}

resource "azurerm_subnet" "nodes" {
  name                 = "nodes"
  resource_group_name  = azurerm_resource_group.this.name
  virtual_network_name = azurerm_virtual_network.this.name
  address_prefixes     = [local.nodes_subnet_cidr]
}

resource "azurerm_subnet" "endpoints" {
  name                 = "private-endpoints"
  resource_group_name  = azurerm_resource_group.this.name
  virtual_network_name = azurerm_virtual_network.this.name
  address_prefixes     = [local.endpoints_subnet_cidr]
}

# Inbound from the internet only to the services' load balancer on 443 (node
# subnet); the private endpoints take nothing from the internet. Traffic inside
# the virtual network stays on Azure's default rules.
locals {
  deny_internet_inbound = {
    name   = "deny-internet-inbound", priority = 4000, access = "Deny", protocol = "*",
    source = "Internet", destination = "*", port = "*"
  }
  subnet_security_rules = {
    nodes = [
      {
        name   = "allow-load-balancer-probes", priority = 100, access = "Allow", protocol = "*",
        source = "AzureLoadBalancer", destination = "*", port = "*"
      },
      {
        name   = "allow-https-to-ingress", priority = 110, access = "Allow", protocol = "Tcp",
        source = "Internet", destination = local.nodes_subnet_cidr, port = "443"
      },
      local.deny_internet_inbound,
    ]
    endpoints = [local.deny_internet_inbound]
  }
  subnet_ids = {
    nodes     = azurerm_subnet.nodes.id
    endpoints = azurerm_subnet.endpoints.id
  }
}

resource "azurerm_network_security_group" "subnet" {
  for_each = local.subnet_security_rules

  name                = "${var.name}-${each.key}"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  tags                = var.tags

  dynamic "security_rule" {
    for_each = each.value

    content {
      name                       = security_rule.value.name
      priority                   = security_rule.value.priority
      direction                  = "Inbound"
      access                     = security_rule.value.access
      protocol                   = security_rule.value.protocol
      source_address_prefix      = security_rule.value.source
      source_port_range          = "*"
      destination_address_prefix = security_rule.value.destination
      destination_port_range     = security_rule.value.port
    }
  }
}

resource "azurerm_subnet_network_security_group_association" "subnet" {
  for_each = local.subnet_ids

  subnet_id                 = each.value
  network_security_group_id = azurerm_network_security_group.subnet[each.key].id
}

resource "azurerm_log_analytics_workspace" "this" {
  name                = "${var.name}-logs"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  sku                 = "PerGB2018"
  retention_in_days   = var.log_retention_days
  tags                = var.tags
}

module "aks" {
  source  = "Azure/aks/azurerm"
  version = "~> 11.0"

  resource_group_name  = azurerm_resource_group.this.name
  location             = azurerm_resource_group.this.location
  cluster_name         = var.name
  prefix               = var.name
  kubernetes_version   = var.kubernetes_version
  orchestrator_version = var.kubernetes_version
  sku_tier             = var.sku_tier
  support_plan         = "KubernetesOfficial"
  tags                 = var.tags

  automatic_channel_upgrade = "patch"
  node_os_channel_upgrade   = "NodeImage"

  # A user-assigned identity exists before the cluster, so it can be granted the KMS key first.
  identity_type = "UserAssigned"
  identity_ids  = [azurerm_user_assigned_identity.cluster.id]

  vnet_subnet                                  = { id = azurerm_subnet.nodes.id }
  network_contributor_role_assigned_subnet_ids = { nodes = azurerm_subnet.nodes.id }
  network_plugin                               = "azure"
  network_plugin_mode                          = "overlay"
  ebpf_data_plane                              = "cilium"
  network_policy                               = "cilium"
  net_profile_pod_cidr                         = var.pod_cidr
  net_profile_service_cidr                     = var.service_cidr
  net_profile_dns_service_ip                   = cidrhost(var.service_cidr, 10)
  load_balancer_sku                            = "standard"

  private_cluster_enabled         = var.private_cluster
  api_server_authorized_ip_ranges = var.private_cluster ? null : var.api_allowed_cidrs

  # Entra ID only: no local admin kubeconfig, no SSH profile on the nodes.
  role_based_access_control_enabled = true
  rbac_aad_azure_rbac_enabled       = true
  rbac_aad_admin_group_object_ids   = var.admin_group_object_ids
  rbac_aad_tenant_id                = data.azurerm_client_config.current.tenant_id
  local_account_disabled            = true
  admin_username                    = null

  workload_identity_enabled = true
  oidc_issuer_enabled       = true
  azure_policy_enabled      = true

  kms_enabled                  = true
  kms_key_vault_key_id         = azurerm_key_vault_key.etcd.id
  kms_key_vault_network_access = "Public"

  log_analytics_workspace_enabled = true
  log_analytics_workspace = {
    id   = azurerm_log_analytics_workspace.this.id
    name = azurerm_log_analytics_workspace.this.name
  }

  # System pool: CriticalAddonsOnly taint keeps workloads off it.
  agents_pool_name             = "system"
  agents_size                  = var.system_vm_size
  agents_availability_zones    = var.availability_zones
  auto_scaling_enabled         = true
  agents_count                 = null
  agents_min_count             = var.system_node_count.min
  agents_max_count             = var.system_node_count.max
  agents_pool_max_surge        = local.max_surge
  only_critical_addons_enabled = true
  host_encryption_enabled      = var.host_encryption
  os_disk_size_gb              = 128
  temporary_name_for_rotation  = "systemtmp"

  node_pools = {
    workload = {
      name                    = "workload"
      mode                    = "User"
      vm_size                 = var.workload_vm_size
      zones                   = var.availability_zones
      auto_scaling_enabled    = true
      min_count               = var.workload_node_count.min
      max_count               = var.workload_node_count.max
      host_encryption_enabled = var.host_encryption
      os_disk_size_gb         = 128
      vnet_subnet             = { id = azurerm_subnet.nodes.id }
      node_labels             = { "sre.platform/pool" = "workload" }
      upgrade_settings        = { max_surge = local.max_surge }
    }
  }

  depends_on = [azurerm_role_assignment.cluster_uses_etcd_key]
}

# Control plane logs (API server, audit, controller manager, scheduler, autoscaler) to Log Analytics.
resource "azurerm_monitor_diagnostic_setting" "control_plane" {
  name                       = "control-plane"
  target_resource_id         = module.aks.aks_id
  log_analytics_workspace_id = azurerm_log_analytics_workspace.this.id

  dynamic "enabled_log" {
    for_each = ["kube-apiserver", "kube-audit-admin", "kube-controller-manager", "kube-scheduler", "cluster-autoscaler", "guard"]

    content {
      category = enabled_log.value
    }
  }
}
