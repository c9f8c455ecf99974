terraform {
  required_version = ">= 1.9.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 7.39"
    }
  }

  # State in Cloud Storage (object generations lock it); the bucket comes
  # from backend.hcl: terraform init -backend-config=backend.hcl
  backend "gcs" {
    prefix = "sre-platform/gcp/dev"
  }
}
