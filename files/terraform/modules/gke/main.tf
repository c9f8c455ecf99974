# Regional GKE (control plane replicated across the region's zones, 99.95 %
# SLA), private nodes, VPC-native networking with Dataplane V2 enforcing
# NetworkPolicy, Workload Identity, and secrets encrypted with Cloud KMS.

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  subnet_name       = "${var.name}-nodes"
  pods_range        = "${var.name}-pods"
  services_range    = "${var.name}-services"
  node_locations    = join(",", var.zones)
  gke_service_agent = "serviceAccount:service-${data.google_project.this.number}@container-engine-robot.iam.gserviceaccount.com"

  # Settings both node pools share: surge upgrades one node at a time, shielded COS nodes.
  node_pool_defaults = {
    node_locations              = local.node_locations
    autoscaling                 = true
    strategy                    = "SURGE"
    max_surge                   = 1
    max_unavailable             = 0
    auto_repair                 = true
    auto_upgrade                = true
    image_type                  = "COS_CONTAINERD"
    disk_type                   = "pd-balanced"
    disk_size_gb                = 100
    enable_secure_boot          = true
    enable_integrity_monitoring = true
    spot                        = false
  }
}

module "network" {
  source  = "terraform-google-modules/network/google"
  version = "~> 13.0"

  project_id   = var.project_id
  network_name = var.name
  routing_mode = "REGIONAL"

  subnets = [
    {
      subnet_name           = local.subnet_name
      subnet_ip             = var.subnet_cidr
      subnet_region         = var.region
      subnet_private_access = "true"
      subnet_flow_logs      = "true"
    },
  ]

  secondary_ranges = {
    (local.subnet_name) = [
      { range_name = local.pods_range, ip_cidr_range = var.pods_cidr },
      { range_name = local.services_range, ip_cidr_range = var.services_cidr },
    ]
  }
}

# Private nodes reach registries through Cloud NAT; nothing reaches them from outside.
resource "google_compute_router" "nat" {
  name    = "${var.name}-nat"
  project = var.project_id
  region  = var.region
  network = module.network.network_self_link
}

resource "google_compute_router_nat" "nat" {
  name                               = "${var.name}-nat"
  project                            = var.project_id
  region                             = var.region
  router                             = google_compute_router.nat.name
  nat_ip_allocate_option             = "AUTO_ONLY"
  source_subnetwork_ip_ranges_to_nat = "ALL_SUBNETWORKS_ALL_IP_RANGES"

  log_config {
    enable = true
    filter = "ERRORS_ONLY"
  }
}

module "gke" {
  source  = "terraform-google-modules/kubernetes-engine/google//modules/private-cluster"
  version = "~> 45.0"

  project_id      = var.project_id
  name            = var.name
  regional        = true
  region          = var.region
  zones           = var.zones
  release_channel = var.release_channel

  network           = module.network.network_name
  subnetwork        = local.subnet_name
  ip_range_pods     = local.pods_range
  ip_range_services = local.services_range
  datapath_provider = "ADVANCED_DATAPATH"

  enable_private_nodes         = true
  enable_private_endpoint      = var.private_endpoint
  master_ipv4_cidr_block       = var.master_cidr
  master_global_access_enabled = false
  master_authorized_networks   = [for cidr in var.api_allowed_cidrs : { cidr_block = cidr, display_name = "allowed ${cidr}" }]

  deletion_protection        = var.deletion_protection
  remove_default_node_pool   = true
  enable_shielded_nodes      = true
  identity_namespace         = "enabled"
  node_metadata              = "GKE_METADATA"
  issue_client_certificate   = false
  create_service_account     = true
  grant_registry_access      = true
  horizontal_pod_autoscaling = true
  http_load_balancing        = true
  gce_pd_csi_driver          = true

  database_encryption = [{ state = "ENCRYPTED", key_name = google_kms_crypto_key.keys["etcd"].id }]

  logging_enabled_components    = ["SYSTEM_COMPONENTS", "APISERVER", "CONTROLLER_MANAGER", "SCHEDULER", "WORKLOADS"]
  monitoring_enabled_components = ["SYSTEM_COMPONENTS", "APISERVER", "SCHEDULER", "CONTROLLER_MANAGER", "STORAGE", "POD", "DEPLOYMENT", "STATEFULSET"]

  security_posture_mode               = "BASIC"
  security_posture_vulnerability_mode = "VULNERABILITY_BASIC"

  node_pools = [
    merge(local.node_pool_defaults, {
      name         = "system"
      machine_type = var.system_machine_type
      min_count    = var.system_nodes_per_zone.min
      max_count    = var.system_nodes_per_zone.max
    }),
    merge(local.node_pool_defaults, {
      name         = "workload"
      machine_type = var.workload_machine_type
      min_count    = var.workload_nodes_per_zone.min
      max_count    = var.workload_nodes_per_zone.max
    }),
  ]

  node_pools_labels = {
    all      = var.labels
    system   = { "sre.platform/pool" = "system" }
    workload = { "sre.platform/pool" = "workload" }
  }

  # System pods tolerate CriticalAddonsOnly; workloads do not, so they stay off the system nodes.
  node_pools_taints = {
    system = [{ key = "CriticalAddonsOnly", value = "true", effect = "NO_SCHEDULE" }]
  }

  cluster_resource_labels = var.labels

  depends_on = [google_kms_crypto_key_iam_member.gke_uses_etcd_key]
}
