# The newest Amazon Linux 2023 AMI published by Amazon, by name pattern.
data "noderoll_image" "al2023" {
  aws {
    owners = ["amazon"]
    name   = "al2023-ami-2023.*-kernel-6.1-x86_64"
  }
}

# Your own golden image, the newest one tagged for the web role.
data "noderoll_image" "golden" {
  aws {
    owners = ["self"]
    tags   = { role = "web", stage = "approved" }
  }
}

# The AMI that AWS's public SSM parameter names as the latest.
data "noderoll_image" "latest" {
  aws {
    ssm_parameter = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
  }
}

# Use the immutable ID: a newer image shows up as a plan diff of the pool.
output "al2023_ami" {
  value = "${data.noderoll_image.al2023.id} (${data.noderoll_image.al2023.name}, created ${data.noderoll_image.al2023.created})"
}
