# Every block is optional. This build runs pools on the local backend, where
# each node is a process on this machine, and in EC2 Auto Scaling groups; the
# gce_mig and azure_vmss blocks already accept their settings for the
# backends that later builds add.
provider "noderoll" {
  local {
    # Where local pools record their nodes (default: .noderoll in the
    # Terraform working directory).
    state_dir = ".noderoll"
  }

  # AWS credentials come from the SDK's default chain (environment, shared
  # configuration, SSO, instance or container role), never from here.
  aws_asg {
    region  = "eu-west-1"
    profile = "platform"

    assume_role {
      role_arn = "arn:aws:iam::123456789012:role/noderoll"
    }
  }
}
