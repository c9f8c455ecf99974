terraform {
  required_version = ">= 1.9.0"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.45"
    }
  }

  # State in an Azure Storage blob (leases lock it); the account and
  # container come from backend.hcl: terraform init -backend-config=backend.hcl
  backend "azurerm" {
    key              = "sre-platform/azure/prod.tfstate"
    use_azuread_auth = true
  }
}
