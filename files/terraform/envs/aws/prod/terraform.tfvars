environment        = "prod"
region             = "eu-west-1"
availability_zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
name               = "platform-prod"
kubernetes_version = "1.33"

# Private API endpoint only: reach it over the VPN / peered network listed here.
api_public_access = false
api_allowed_cidrs = ["10.0.0.0/8"]

# Replace with the roles of the platform operators.
cluster_admin_arns = ["arn:aws:iam::111122223333:role/platform-admins"]

workload_instance_types = ["m6i.xlarge"]
workload_nodes_per_zone = { min = 1, max = 5 }

backup_bucket_name = "example-platform-prod-pg-backups"
