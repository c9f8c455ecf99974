# Remote state of aws/prod: terraform init -backend-config=prod/backend.hcl
# The bucket and lock table are created once per account, outside this
# configuration; replace the REPLACE values.
bucket         = "REPLACE-terraform-state-bucket"
region         = "REPLACE-state-bucket-region"
dynamodb_table = "REPLACE-terraform-lock-table"
key            = "sre-platform/aws/prod/terraform.tfstate"
