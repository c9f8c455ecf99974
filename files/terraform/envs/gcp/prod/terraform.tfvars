# Replace with the project that hosts this environment.
project_id  = "example-platform-prod"
environment = "prod"
region      = "europe-west1"
zones       = ["europe-west1-b", "europe-west1-c", "europe-west1-d"]
name        = "platform-prod"

release_channel = "STABLE"

# Private API endpoint only: reach it over the VPN / peered network listed here.
private_endpoint  = true
api_allowed_cidrs = ["10.0.0.0/8"]

workload_machine_type   = "e2-standard-8"
workload_nodes_per_zone = { min = 1, max = 5 }

deletion_protection = true
backup_bucket_name  = "example-platform-prod-pg-backups"
