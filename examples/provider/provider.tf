# Every block is optional. This build runs pools on the local backend, where
# each node is a process on this machine; the cloud blocks already accept
# their settings for the backends that later builds add.
provider "noderoll" {
  local {
    # Where local pools record their nodes (default: .noderoll in the
    # Terraform working directory).
    state_dir = ".noderoll"
  }
}
