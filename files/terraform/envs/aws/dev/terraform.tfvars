environment        = "dev"
region             = "eu-west-1"
availability_zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
name               = "platform-dev"
kubernetes_version = "1.33"

# Public API endpoint restricted to the operators' range (documentation range: replace it).
api_public_access = true
api_allowed_cidrs = ["203.0.113.0/24"]

# Replace with the roles of the platform operators.
cluster_admin_arns = ["arn:aws:iam::111122223333:role/platform-admins"]

workload_instance_types = ["m6i.large"]
workload_nodes_per_zone = { min = 1, max = 2 }

backup_bucket_name = "example-platform-dev-pg-backups"
