# A pool of 4 nodes on the local backend. Each node runs `./app`, listening on
# its own loopback address and port 8080. Changing `image` (or
# `machine_type`) rolls the pool one node at a time: a new node is added and
# must pass its health check for 10 seconds before an old one is drained and
# removed. A new node that is not healthy within 2 minutes fails the apply and
# the pool is rolled back to the previous image.
resource "noderoll_node_pool" "web" {
  name         = "web"
  size         = 4
  image        = "v2"
  machine_type = "small"

  local {
    command = ["./app", "--listen", "{{address}}:{{port}}", "--version", "{{image}}", "--node-id", "{{node_id}}"]
    port    = 8080
  }

  rollout {
    max_surge       = "25%"
    max_unavailable = "0"
    min_ready       = "10s"
    node_deadline   = "2m"
    on_failure      = "rollback"
  }

  health_check {
    http {
      path          = "/healthz"
      body_contains = "ok"
    }
    interval          = "2s"
    timeout           = "1s"
    healthy_threshold = 2
  }

  drain {
    timeout = "1m"
    command = ["./drain.sh", "{{node_id}}", "{{address}}"]
  }

  timeouts {
    update = "1h"
  }
}

# What the last plan said the rollout would do, for change reviews.
output "rollout_plan" {
  value = noderoll_node_pool.web.rollout_plan.summary
}
