terraform {
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }

  # State in S3 with a DynamoDB lock table; bucket, region and table come
  # from backend.hcl: terraform init -backend-config=backend.hcl
  backend "s3" {
    key     = "sre-platform/aws/dev/terraform.tfstate"
    encrypt = true
  }
}
