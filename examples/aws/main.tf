# A web pool of 6 instances in an EC2 Auto Scaling group, on the newest
# Amazon Linux 2023 AMI. When AWS publishes a new AMI, the next plan shows
# the pool's rollout (image changes, rollout_plan says how); the apply rolls
# it two instances at a time, health-checked on port 8080, and rolls back
# if the new instances do not become healthy.
#
# The base launch template (user data, security groups, instance profile)
# is made with the hashicorp/aws provider: see launch_template.tf.example,
# and pass its ID in. This directory uses only the noderoll provider so that
# `terraform validate` runs without downloading anything.
#
#   terraform apply -var launch_template_id=lt-0123456789abcdef0 \
#     -var 'subnet_ids=["subnet-0123456789abcdef0","subnet-0fedcba9876543210"]'

terraform {
  required_version = ">= 1.5.0"
  required_providers {
    noderoll = {
      source = "noderoll/noderoll"
    }
  }
}

variable "region" {
  description = "AWS Region of the pool."
  type        = string
  default     = "eu-west-1"
}

variable "launch_template_id" {
  description = "ID of the base launch template (aws_launch_template.web.id)."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets the group launches into, one per Availability Zone."
  type        = list(string)
}

variable "target_group_arns" {
  description = "Load balancer target groups the instances serve behind."
  type        = list(string)
  default     = []
}

# Credentials come from the AWS SDK's default chain (environment, shared
# configuration and profile, SSO, instance or container role), never from
# this file, and are never stored in state.
provider "noderoll" {
  aws_asg {
    region = var.region
  }
}

# The newest Amazon Linux 2023 AMI, pinned by its immutable ID.
data "noderoll_image" "al2023" {
  aws {
    ssm_parameter = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
  }
}

resource "noderoll_node_pool" "web" {
  name         = "web"
  size         = 6
  image        = data.noderoll_image.al2023.id
  machine_type = "t3.small"

  aws_asg {
    launch_template_id = var.launch_template_id
    subnet_ids         = var.subnet_ids
    target_group_arns  = length(var.target_group_arns) > 0 ? var.target_group_arns : null
    use_elb_health     = length(var.target_group_arns) > 0
  }

  rollout {
    max_surge       = "2"
    max_unavailable = "0"
    min_ready       = "60s"
    node_deadline   = "10m"
    on_failure      = "rollback"
  }

  # Probes go to each instance's private IP: run Terraform where it can
  # reach the VPC (a CI runner in it, or over a VPN).
  health_check {
    http {
      port = 8080
      path = "/healthz"
    }
    interval          = "10s"
    timeout           = "3s"
    healthy_threshold = 3
    # Also require the group's own verdict (EC2 status, and target health
    # with use_elb_health).
    cloud = true
  }

  drain {
    timeout = "5m"
    webhook {
      url = "https://deploy.example.com/drain"
    }
  }

  timeouts {
    update = "2h"
  }
}

output "rollout_plan" {
  description = "What the last plan said the rollout would do."
  value       = noderoll_node_pool.web.rollout_plan.summary
}

output "group_name" {
  value = noderoll_node_pool.web.aws_asg.group_name
}
