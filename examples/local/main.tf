# A runnable noderoll pool on this machine: 4 nodes, each a process of the
# demo app (examples/local/app) on its own loopback address. The app's
# "image" is its version: v1 and v2 are healthy, v3 fails its health check.
#
#   terraform apply -var app=/path/to/app                 # 4 nodes on v1
#   terraform apply -var app=/path/to/app -var image=v2   # rolls to v2
#   terraform apply -var app=/path/to/app -var image=v3   # fails, rolls back
#
# scripts/demo.sh runs exactly that, with explanations.

terraform {
  required_version = ">= 1.5.0"
  required_providers {
    noderoll = {
      source = "noderoll/noderoll"
    }
  }
}

variable "image" {
  description = "Version of the demo app every node runs: v1 and v2 are healthy, v3 fails /healthz."
  type        = string
  default     = "v1"
}

variable "size" {
  description = "Number of nodes."
  type        = number
  default     = 4
}

variable "app" {
  description = "Absolute path of the built demo app (go build -o bin/app ./examples/local/app)."
  type        = string
  default     = ""
}

variable "port" {
  description = "Port every node serves on, each on its own 127.x.y.z address."
  type        = number
  default     = 18080
}

locals {
  app = var.app != "" ? var.app : abspath("${path.module}/bin/app")
}

provider "noderoll" {
  local {
    state_dir = "${path.module}/.noderoll"
  }
}

resource "noderoll_node_pool" "demo" {
  name         = "demo"
  size         = var.size
  image        = var.image
  machine_type = "small"

  local {
    command = [local.app, "--listen", "{{address}}:{{port}}", "--version", "{{image}}", "--node-id", "{{node_id}}"]
    port    = var.port
  }

  # One extra node at a time, never fewer than `size` serving. Small timings
  # keep the demo quick; real pools wait longer.
  rollout {
    max_surge       = "1"
    max_unavailable = "0"
    min_ready       = "1s"
    node_deadline   = "8s"
    on_failure      = "rollback"
  }

  health_check {
    http {
      path          = "/healthz"
      body_contains = "ok"
    }
    interval          = "250ms"
    timeout           = "250ms"
    healthy_threshold = 2
  }

  timeouts {
    update = "10m"
  }
}

output "image" {
  description = "The image the pool runs, or why it is not converged."
  value       = noderoll_node_pool.demo.image
}

output "nodes" {
  description = "Each node's health-check URL and whether it passed when last observed."
  value = [
    for n in noderoll_node_pool.demo.nodes :
    "${n.id}  http://${n.address}:${var.port}/healthz  healthy=${n.healthy}"
  ]
}

output "rollout_plan" {
  description = "What the last applied plan said the rollout would do."
  value       = noderoll_node_pool.demo.rollout_plan.summary
}

output "last_rollout" {
  description = "How the last run ended."
  value       = noderoll_node_pool.demo.last_rollout
}
