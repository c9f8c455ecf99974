# Object store for the CloudNativePG backups (Barman Cloud): versioned,
# KMS-encrypted, private, TLS only, writable by the database's service account
# alone, readable by the restore drill's.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  kms_admin_actions = [
    "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*",
    "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
    "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
  ]
  kms_use_actions = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
}

resource "aws_kms_key" "backups" {
  description             = "${var.name} PostgreSQL backups"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  # A key policy's "*" resource means this key. The account administers the
  # key but cannot use it; only the backup role encrypts, and the restore role
  # only decrypts.
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = local.kms_admin_actions
        Resource  = "*"
      },
      {
        Sid       = "BackupRoleUses"
        Effect    = "Allow"
        Principal = { AWS = aws_iam_role.irsa["backups"].arn }
        Action    = local.kms_use_actions
        Resource  = "*"
      },
      {
        Sid       = "RestoreRoleDecrypts"
        Effect    = "Allow"
        Principal = { AWS = aws_iam_role.irsa["restore"].arn }
        Action    = ["kms:Decrypt"]
        Resource  = "*"
      },
    ]
  })
  tags = var.tags
}

resource "aws_kms_alias" "backups" {
  name          = "alias/${var.name}-pg-backups"
  target_key_id = aws_kms_key.backups.key_id
}

resource "aws_s3_bucket" "backups" {
  bucket = var.backup_bucket_name
  tags   = var.tags
}

resource "aws_s3_bucket_public_access_block" "backups" {
  bucket                  = aws_s3_bucket.backups.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "backups" {
  bucket = aws_s3_bucket.backups.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "backups" {
  bucket = aws_s3_bucket.backups.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "backups" {
  bucket = aws_s3_bucket.backups.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.backups.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "backups" {
  bucket = aws_s3_bucket.backups.id

  # Barman Cloud expires base backups by its own retention policy; S3 only
  # cleans up what that leaves behind.
  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.backup_retention_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.backups]
}

data "aws_iam_policy_document" "backups_bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.backups.arn, "${aws_s3_bucket.backups.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "backups" {
  bucket = aws_s3_bucket.backups.id
  policy = data.aws_iam_policy_document.backups_bucket.json

  depends_on = [aws_s3_bucket_public_access_block.backups]
}

# What the restore drill's Cluster needs to recover: list and read the backups
# and decrypt them. It archives no WAL and takes no backups, so nothing more.
data "aws_iam_policy_document" "backups_read" {
  statement {
    sid       = "ListBackups"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [aws_s3_bucket.backups.arn]
  }

  statement {
    sid       = "ReadBackups"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.backups.arn}/*"]
  }

  statement {
    sid       = "DecryptBackups"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.backups.arn]
  }
}

# The Cluster also writes and expires them (Barman Cloud's retention policy).
data "aws_iam_policy_document" "backups_access" {
  source_policy_documents = [data.aws_iam_policy_document.backups_read.json]

  statement {
    sid       = "WriteBackups"
    actions   = ["s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.backups.arn}/*"]
  }

  statement {
    sid       = "UseBackupKey"
    actions   = local.kms_use_actions
    resources = [aws_kms_key.backups.arn]
  }
}

resource "aws_iam_role_policy" "backups" {
  name   = "pg-backups"
  role   = aws_iam_role.irsa["backups"].id
  policy = data.aws_iam_policy_document.backups_access.json
}

resource "aws_iam_role_policy" "restore" {
  name   = "pg-backups-read"
  role   = aws_iam_role.irsa["restore"].id
  policy = data.aws_iam_policy_document.backups_read.json
}
