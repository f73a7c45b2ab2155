# A pool of 4 instances in an EC2 Auto Scaling group (created as
# "noderoll-api"). Each AMI or instance type becomes a new numbered version
# of the base launch template; instances are probed over HTTP at their
# private IPs and must also be Healthy in the group. The base template comes
# from aws_launch_template (here passed in as a variable).
variable "launch_template_id" {
  type        = string
  description = "aws_launch_template.api.id"
}

data "noderoll_image" "al2023" {
  aws {
    ssm_parameter = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
  }
}

resource "noderoll_node_pool" "api" {
  name         = "api"
  size         = 4
  image        = data.noderoll_image.al2023.id
  machine_type = "t3.medium"

  aws_asg {
    region             = "eu-west-1"
    launch_template_id = var.launch_template_id
    subnet_ids         = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
    target_group_arns  = ["arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/api/0123456789abcdef"]
    use_elb_health     = true
  }

  rollout {
    max_surge     = "50%"
    min_ready     = "30s"
    node_deadline = "10m"
  }

  health_check {
    http {
      port = 8080
      path = "/healthz"
    }
    interval = "5s"
    cloud    = true
  }
}
