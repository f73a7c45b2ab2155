#!/usr/bin/env bash
# Prints the path of the Terraform CLI noderoll's scripts and tests use,
# building it from source (with the Go toolchain, through the Go module proxy)
# when it is missing. Terraform is never downloaded as a release binary.
#
#   TF="$(scripts/ensure-terraform.sh)"
#
# NODEROLL_TERRAFORM overrides the path; TERRAFORM_VERSION the version.
set -euo pipefail

version="${TERRAFORM_VERSION:-1.5.7}"
dir="${NODEROLL_TOOLS:-$HOME/.cache/noderoll-tools}/terraform-$version"
tf="${NODEROLL_TERRAFORM:-$dir/terraform}"

if [ ! -x "$tf" ]; then
  echo "Terraform $version not found at $tf: building it from source (a few minutes, once)..." >&2
  mkdir -p "$dir"
  GOBIN="$dir" go install "github.com/hashicorp/terraform@v$version" >&2
  tf="$dir/terraform"
fi
echo "$tf"
