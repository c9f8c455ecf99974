# Cloud KMS keys: one encrypts Kubernetes secrets in etcd (application-layer
# secrets encryption), one encrypts the backup bucket. Keys rotate every 90
# days and cannot be destroyed by Terraform.

locals {
  keys = {
    etcd    = { location = var.region }
    backups = { location = var.backup_key_location }
  }
}

resource "google_kms_key_ring" "keys" {
  for_each = local.keys

  name     = "${var.name}-${each.key}"
  project  = var.project_id
  location = each.value.location
}

resource "google_kms_crypto_key" "keys" {
  for_each = local.keys

  name            = "${var.name}-${each.key}"
  key_ring        = google_kms_key_ring.keys[each.key].id
  rotation_period = "7776000s"
  labels          = var.labels

  lifecycle {
    prevent_destroy = true
  }
}

resource "google_kms_crypto_key_iam_member" "gke_uses_etcd_key" {
  crypto_key_id = google_kms_crypto_key.keys["etcd"].id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = local.gke_service_agent
}

data "google_storage_project_service_account" "gcs" {
  project = var.project_id
}

resource "google_kms_crypto_key_iam_member" "gcs_uses_backups_key" {
  crypto_key_id = google_kms_crypto_key.keys["backups"].id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = data.google_storage_project_service_account.gcs.member
}
