# Fill in before `terraform init -backend-config=backend.hcl` (the bucket is
# created once per organisation, outside this configuration).
bucket = "REPLACE-terraform-state-bucket"
