# IAM roles for service accounts (IRSA): each role trusts only the Kubernetes
# service accounts named here, through the cluster's OIDC provider.

locals {
  # The Cluster writes the backups; the restore drill's Cluster reads them back.
  backup_service_accounts = { cluster = var.backup_service_account, restore = var.restore_service_account }

  irsa_service_accounts = {
    ebs-csi = { namespace = "kube-system", names = ["ebs-csi-controller-sa"] }
    backups = { namespace = var.backup_namespace, names = values(local.backup_service_accounts) }
  }
}

data "aws_iam_policy_document" "irsa_trust" {
  for_each = local.irsa_service_accounts

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [module.eks.oidc_provider_arn]
    }

    # Several values are alternatives: any one of these service accounts.
    condition {
      test     = "StringEquals"
      variable = "${module.eks.oidc_provider}:sub"
      values   = [for name in each.value.names : "system:serviceaccount:${each.value.namespace}:${name}"]
    }

    condition {
      test     = "StringEquals"
      variable = "${module.eks.oidc_provider}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "irsa" {
  for_each = local.irsa_service_accounts

  name               = "${var.name}-${each.key}"
  assume_role_policy = data.aws_iam_policy_document.irsa_trust[each.key].json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "ebs_csi" {
  role       = aws_iam_role.irsa["ebs-csi"].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
}
