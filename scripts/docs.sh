#!/usr/bin/env bash
# Generates docs/ from templates/, examples/ and the provider's schema with
# tfplugindocs. tfplugindocs takes the first `terraform` on PATH (and would
# download one only if there were none), so the one from
# scripts/ensure-terraform.sh is put first on PATH and checked.
#
#   scripts/docs.sh [output-dir]     # default: docs
set -euo pipefail
cd "$(dirname "$0")/.."

out="${1:-docs}"
tf="$(scripts/ensure-terraform.sh)"
export PATH="$(dirname "$tf"):$PATH"
export CHECKPOINT_DISABLE=1
if [ "$(command -v terraform)" != "$tf" ]; then
  echo "docs: terraform on PATH is $(command -v terraform), want $tf" >&2
  exit 1
fi
go tool tfplugindocs generate --provider-name noderoll --rendered-website-dir "$out"
