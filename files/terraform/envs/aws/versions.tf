terraform {
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }

  # State in S3 with a DynamoDB lock table. One root serves every
  # environment: bucket, region, table and the per-environment key come from
  # <env>/backend.hcl (terraform init -backend-config=<env>/backend.hcl).
  backend "s3" {
    encrypt = true
  }
}
