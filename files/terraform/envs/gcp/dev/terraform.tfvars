# Replace with the project that hosts this environment.
project_id  = "example-platform-dev"
environment = "dev"
region      = "europe-west1"
zones       = ["europe-west1-b", "europe-west1-c", "europe-west1-d"]
name        = "platform-dev"

release_channel = "REGULAR"

# Public API endpoint restricted to the operators' range (documentation range: replace it).
private_endpoint  = false
api_allowed_cidrs = ["203.0.113.0/24"]

workload_machine_type   = "e2-standard-4"
workload_nodes_per_zone = { min = 1, max = 2 }

deletion_protection = false
backup_bucket_name  = "example-platform-dev-pg-backups"
