# Remote state of azure/dev: terraform init -backend-config=dev/backend.hcl
# The storage account is created once per subscription, outside this
# configuration; replace the REPLACE values.
resource_group_name  = "REPLACE-terraform-state-rg"
storage_account_name = "REPLACEtfstate"
container_name       = "tfstate"
key                  = "sre-platform/azure/dev.tfstate"
