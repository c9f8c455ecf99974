# IAM roles for service accounts (IRSA): each role trusts exactly one
# Kubernetes service account, named here, through the cluster's OIDC provider.

locals {
  # The Cluster writes the backups with "backups"; the restore drill's Cluster
  # reads them back with "restore", which can neither write nor delete one.
  irsa_service_accounts = {
    ebs-csi = { namespace = "kube-system", name = "ebs-csi-controller-sa" }
    backups = { namespace = var.backup_namespace, name = var.backup_service_account }
    restore = { namespace = var.backup_namespace, name = var.restore_service_account }
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

    condition {
      test     = "StringEquals"
      variable = "${module.eks.oidc_provider}:sub"
      values   = ["system:serviceaccount:${each.value.namespace}:${each.value.name}"]
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
