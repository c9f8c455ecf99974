# Fill in before `terraform init -backend-config=backend.hcl` (the bucket
# and table are created once per account, outside this configuration).
bucket         = "REPLACE-terraform-state-bucket"
region         = "REPLACE-state-bucket-region"
dynamodb_table = "REPLACE-terraform-lock-table"
