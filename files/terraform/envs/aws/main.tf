provider "aws" {
  region = var.region

  default_tags {
    tags = {
      project     = "sre-platform"
      environment = var.environment
      managed-by  = "terraform"
    }
  }
}

module "cluster" {
  source = "../../modules/eks"

  name                    = var.name
  availability_zones      = var.availability_zones
  kubernetes_version      = var.kubernetes_version
  api_public_access       = var.api_public_access
  api_allowed_cidrs       = var.api_allowed_cidrs
  cluster_admin_arns      = var.cluster_admin_arns
  workload_instance_types = var.workload_instance_types
  workload_nodes_per_zone = var.workload_nodes_per_zone
  backup_bucket_name      = var.backup_bucket_name
}
