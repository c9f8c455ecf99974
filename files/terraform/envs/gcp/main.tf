provider "google" {
  project = var.project_id
  region  = var.region
}

module "cluster" {
  source = "../../modules/gke"

  project_id              = var.project_id
  name                    = var.name
  region                  = var.region
  zones                   = var.zones
  release_channel         = var.release_channel
  private_endpoint        = var.private_endpoint
  api_allowed_cidrs       = var.api_allowed_cidrs
  workload_machine_type   = var.workload_machine_type
  workload_nodes_per_zone = var.workload_nodes_per_zone
  deletion_protection     = var.deletion_protection
  backup_bucket_name      = var.backup_bucket_name
  labels = {
    project     = "sre-platform"
    environment = var.environment
    managed-by  = "terraform"
  }
}
