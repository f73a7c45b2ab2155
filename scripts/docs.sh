#!/usr/bin/env bash
# Generates the provider's pages in docs/ (index.md, resources/,
# data-sources/) from templates/, examples/ and the provider's schema with
# tfplugindocs. Other files in docs/ (benchmark reports, say) are left alone:
# tfplugindocs empties its output directory, so it renders into a scratch
# directory first.
#
# tfplugindocs takes the first `terraform` on PATH (and would download one
# only if there were none), so the one from scripts/ensure-terraform.sh is
# put first on PATH and checked.
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
scratch=".tfplugindocs-out.$$"
trap 'rm -rf "$scratch"' EXIT
go tool tfplugindocs generate --provider-name noderoll --rendered-website-dir "$scratch"
mkdir -p "$out"
rm -rf "$out/index.md" "$out/resources" "$out/data-sources"
cp -R "$scratch"/. "$out"/
