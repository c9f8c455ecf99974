terraform {
  required_version = ">= 1.9.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 7.39"
    }
  }

  # State in Cloud Storage (object generations lock it). One root serves
  # every environment: the bucket and the per-environment prefix come from
  # <env>/backend.hcl (terraform init -backend-config=<env>/backend.hcl).
  backend "gcs" {}
}
