terraform {
  required_version = ">= 1.9.0"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.45"
    }
  }

  # State in an Azure Storage blob (leases lock it). One root serves every
  # environment: account, container and the per-environment key come from
  # <env>/backend.hcl (terraform init -backend-config=<env>/backend.hcl).
  backend "azurerm" {
    use_azuread_auth = true
  }
}
