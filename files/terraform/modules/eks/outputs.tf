output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "Endpoint of the Kubernetes API server."
  value       = module.eks.cluster_endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64-encoded CA certificate of the API server."
  value       = module.eks.cluster_certificate_authority_data
}

output "oidc_provider_arn" {
  description = "ARN of the OIDC provider used by IAM roles for service accounts."
  value       = module.eks.oidc_provider_arn
}

output "vpc_id" {
  description = "ID of the VPC the cluster runs in."
  value       = module.vpc.vpc_id
}

output "backup_bucket" {
  description = "S3 bucket for CloudNativePG backups (barmanObjectStore destinationPath s3://<bucket>/)."
  value       = aws_s3_bucket.backups.bucket
}

output "backup_role_arn" {
  description = "IAM role to put in the eks.amazonaws.com/role-arn annotation of the PostgreSQL service account."
  value       = aws_iam_role.irsa["backups"].arn
}

output "restore_role_arn" {
  description = "IAM role to put in the eks.amazonaws.com/role-arn annotation of the restore drill's service account (reads the backups, never writes)."
  value       = aws_iam_role.irsa["restore"].arn
}
