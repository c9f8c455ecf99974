# EKS across three availability zones: the control plane is regional by
# design (99.95 % SLA); nodes live in private subnets, one NAT gateway per zone
# so losing a zone never cuts the others off from the registries.

locals {
  azs = var.availability_zones

  # System pods tolerate CriticalAddonsOnly; workloads do not, so they stay off the system nodes.
  system_taint = {
    critical_addons_only = { key = "CriticalAddonsOnly", value = "true", effect = "NO_SCHEDULE" }
  }

  # Settings every node group shares: IMDSv2 only, encrypted gp3 root volume, one node at a time during upgrades.
  node_group_defaults = {
    ami_type = "AL2023_x86_64_STANDARD"
    metadata_options = {
      http_endpoint               = "enabled"
      http_tokens                 = "required"
      http_put_response_hop_limit = 1
    }
    block_device_mappings = {
      root = {
        device_name = "/dev/xvda"
        ebs = {
          volume_size           = 50
          volume_type           = "gp3"
          encrypted             = true
          delete_on_termination = true
        }
      }
    }
    update_config = { max_unavailable = 1 }
  }

  system_node_group = merge(local.node_group_defaults, {
    instance_types = var.system_instance_types
    min_size       = var.system_node_count.min
    max_size       = var.system_node_count.max
    desired_size   = var.system_node_count.min
    subnet_ids     = module.vpc.private_subnets
    labels         = { "sre.platform/pool" = "system" }
    taints         = local.system_taint
  })

  # One workload group per zone: the cluster autoscaler can then add a node in
  # the zone where a pending pod's EBS volume lives.
  workload_node_groups = {
    for index, az in local.azs : "workload-${substr(az, -1, 1)}" => merge(local.node_group_defaults, {
      instance_types = var.workload_instance_types
      min_size       = var.workload_nodes_per_zone.min
      max_size       = var.workload_nodes_per_zone.max
      desired_size   = var.workload_nodes_per_zone.min
      subnet_ids     = [module.vpc.private_subnets[index]]
      labels         = { "sre.platform/pool" = "workload" }
    })
  }
}

module "vpc" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "~> 6.0"

  name = var.name
  cidr = var.vpc_cidr
  azs  = local.azs

  private_subnets = [for index in range(3) : cidrsubnet(var.vpc_cidr, 4, index)]
  public_subnets  = [for index in range(3) : cidrsubnet(var.vpc_cidr, 8, 48 + index)]
  intra_subnets   = [for index in range(3) : cidrsubnet(var.vpc_cidr, 8, 52 + index)]

  enable_nat_gateway     = true
  single_nat_gateway     = false
  one_nat_gateway_per_az = true
  enable_dns_hostnames   = true
  enable_dns_support     = true

  # The default security group allows nothing: every rule is explicit.
  manage_default_security_group  = true
  default_security_group_ingress = []
  default_security_group_egress  = []

  enable_flow_log                                 = true
  create_flow_log_cloudwatch_log_group            = true
  create_flow_log_cloudwatch_iam_role             = true
  flow_log_max_aggregation_interval               = 60
  flow_log_cloudwatch_log_group_retention_in_days = var.log_retention_days

  public_subnet_tags  = { "kubernetes.io/role/elb" = "1" }
  private_subnet_tags = { "kubernetes.io/role/internal-elb" = "1" }

  tags = var.tags
}

module "eks" {
  source  = "terraform-aws-modules/eks/aws"
  version = "~> 21.0"

  name               = var.name
  kubernetes_version = var.kubernetes_version

  vpc_id                   = module.vpc.vpc_id
  subnet_ids               = module.vpc.private_subnets
  control_plane_subnet_ids = module.vpc.intra_subnets

  endpoint_private_access      = true
  endpoint_public_access       = var.api_public_access
  endpoint_public_access_cidrs = var.api_allowed_cidrs

  # Secrets are envelope-encrypted with a KMS key the module creates (rotation on).
  encryption_config       = { resources = ["secrets"] }
  enable_kms_key_rotation = true

  enabled_log_types                      = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
  cloudwatch_log_group_retention_in_days = var.log_retention_days

  authentication_mode                      = "API"
  enable_cluster_creator_admin_permissions = false
  access_entries = {
    for arn in var.cluster_admin_arns : arn => {
      principal_arn = arn
      policy_associations = {
        admin = {
          policy_arn   = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
          access_scope = { type = "cluster" }
        }
      }
    }
  }

  # IRSA: pods get AWS credentials from their service account, never from the node role.
  enable_irsa = true

  addons = {
    vpc-cni = {
      before_compute = true
      # The VPC CNI enforces Kubernetes NetworkPolicy (the charts ship default-deny policies).
      configuration_values = jsonencode({ enableNetworkPolicy = "true" })
    }
    kube-proxy = {}
    coredns    = {}
    aws-ebs-csi-driver = {
      service_account_role_arn = aws_iam_role.irsa["ebs-csi"].arn
    }
  }

  eks_managed_node_groups = merge({ system = local.system_node_group }, local.workload_node_groups)

  tags = var.tags
}
