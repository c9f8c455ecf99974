# Fill in before `terraform init -backend-config=backend.hcl` (the storage
# account is created once per subscription, outside this configuration).
resource_group_name  = "REPLACE-terraform-state-rg"
storage_account_name = "REPLACEtfstate"
container_name       = "tfstate"
