#!/usr/bin/env bash
# Runs the provider's acceptance tests: the real Terraform CLI (built from
# source by scripts/ensure-terraform.sh, never downloaded) against the
# provider in-process and, for the interrupted-apply test, as a built binary
# through dev_overrides. Nodes are processes of the demo app on loopback
# addresses. Extra arguments go to `go test` (e.g. -run TestAccNodePool_halt -v).
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_ACC=1 CHECKPOINT_DISABLE=1
TF_ACC_TERRAFORM_PATH="$(scripts/ensure-terraform.sh)"
export TF_ACC_TERRAFORM_PATH
exec go test ./internal/provider/... -count=1 -timeout 20m "$@"
