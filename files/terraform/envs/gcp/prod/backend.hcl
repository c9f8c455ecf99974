# Remote state of gcp/prod: terraform init -backend-config=prod/backend.hcl
# The bucket is created once per organisation, outside this configuration;
# replace the REPLACE value.
bucket = "REPLACE-terraform-state-bucket"
prefix = "sre-platform/gcp/prod"
