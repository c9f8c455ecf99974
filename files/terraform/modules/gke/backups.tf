# Bucket for the CloudNativePG backups: multi-region, versioned, CMEK,
# uniform access, public access prevented, reachable only by the database's
# and the restore drill's Kubernetes service accounts through Workload Identity.

locals {
  # The Cluster writes the backups; the restore drill's Cluster reads them back.
  backup_service_accounts = { cluster = var.backup_service_account, restore = var.restore_service_account }
}

resource "google_storage_bucket" "backups" {
  name                        = var.backup_bucket_name
  project                     = var.project_id
  location                    = var.backup_location
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = var.labels

  versioning {
    enabled = true
  }

  encryption {
    default_kms_key_name = google_kms_crypto_key.keys["backups"].id
  }

  # Barman Cloud expires base backups by its own retention policy; the bucket
  # only cleans up the versions that leaves behind.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.backup_retention_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_kms_crypto_key_iam_member.gcs_uses_backups_key]
}

resource "google_service_account" "backups" {
  project      = var.project_id
  account_id   = "${var.name}-pg-backups"
  display_name = "${var.name} PostgreSQL backups"
}

resource "google_storage_bucket_iam_member" "backups_writer" {
  bucket = google_storage_bucket.backups.name
  role   = "roles/storage.objectUser"
  member = google_service_account.backups.member
}

# The workload pool exists once the cluster does.
resource "google_service_account_iam_member" "backups_workload_identity" {
  for_each = local.backup_service_accounts

  service_account_id = google_service_account.backups.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${var.backup_namespace}/${each.value}]"

  depends_on = [module.gke]
}

# The binding that existed before the restore drill's: kept, not recreated.
moved {
  from = google_service_account_iam_member.backups_workload_identity
  to   = google_service_account_iam_member.backups_workload_identity["cluster"]
}
