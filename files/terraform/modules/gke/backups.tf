# Bucket for the CloudNativePG backups: multi-region, versioned, CMEK,
# uniform access, public access prevented, writable only by the database's
# Kubernetes service account and readable by the restore drill's, each through
# a Google service account of its own (Workload Identity).

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

# The Cluster's account writes the backups (and expires them by Barman Cloud's
# retention policy).
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

# Barman Cloud checks that the bucket exists before it archives or backs up
# (storage.buckets.get), which objectUser does not grant.
resource "google_storage_bucket_iam_member" "backups_bucket_reader" {
  bucket = google_storage_bucket.backups.name
  role   = "roles/storage.legacyBucketReader"
  member = google_service_account.backups.member
}

# The workload pool exists once the cluster does.
resource "google_service_account_iam_member" "backups_workload_identity" {
  service_account_id = google_service_account.backups.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${var.backup_namespace}/${var.backup_service_account}]"

  depends_on = [module.gke]
}

# The Cluster's binding is kept, not recreated; the one the restore drill had
# on this account is destroyed.
moved {
  from = google_service_account_iam_member.backups_workload_identity["cluster"]
  to   = google_service_account_iam_member.backups_workload_identity
}

# The restore drill's account only reads: its Cluster archives no WAL and takes
# no backups, so neither the drill nor the restored copy can change one.
resource "google_service_account" "restore" {
  project      = var.project_id
  account_id   = "${var.name}-pg-restore"
  display_name = "${var.name} PostgreSQL restore drill"
}

resource "google_storage_bucket_iam_member" "restore_object_reader" {
  bucket = google_storage_bucket.backups.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.restore.member
}

# Barman Cloud checks that the bucket exists before it reads (storage.buckets.get).
resource "google_storage_bucket_iam_member" "restore_bucket_reader" {
  bucket = google_storage_bucket.backups.name
  role   = "roles/storage.legacyBucketReader"
  member = google_service_account.restore.member
}

resource "google_service_account_iam_member" "restore_workload_identity" {
  service_account_id = google_service_account.restore.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${var.backup_namespace}/${var.restore_service_account}]"

  depends_on = [module.gke]
}
