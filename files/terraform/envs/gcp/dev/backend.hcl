# Remote state of gcp/dev: terraform init -backend-config=dev/backend.hcl
# The bucket is created once per organisation, outside this configuration;
# replace the REPLACE value.
bucket = "REPLACE-terraform-state-bucket"
prefix = "sre-platform/gcp/dev"
