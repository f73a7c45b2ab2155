#!/usr/bin/env bash
# Checks every example: `terraform fmt -check`, then `terraform validate`
# against the provider built from this tree (a dev_overrides CLI
# configuration, so nothing is downloaded and no `terraform init` is needed).
#
# The documentation snippets (examples/provider, examples/resources/*) leave
# out required_providers, as tfplugindocs examples do; they are validated in a
# temporary copy that adds it.
set -euo pipefail
cd "$(dirname "$0")/.."

tf="$(scripts/ensure-terraform.sh)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "check-examples: terraform fmt -check"
"$tf" fmt -check -recursive -diff examples

go build -o "$tmp/bin/terraform-provider-noderoll" .
cat >"$tmp/dev.tfrc" <<RC
provider_installation {
  dev_overrides {
    "noderoll/noderoll" = "$tmp/bin"
  }
  direct {}
}
RC
export TF_CLI_CONFIG_FILE="$tmp/dev.tfrc" CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1

status=0
while IFS= read -r dir; do
  work="$tmp/validate/$dir"
  mkdir -p "$work"
  find "$dir" -maxdepth 1 -name '*.tf' -exec cp {} "$work/" \;
  if ! grep -qs required_providers "$work"/*.tf; then
    printf 'terraform {\n  required_providers {\n    noderoll = { source = "noderoll/noderoll" }\n  }\n}\n' >"$work/zz_required_providers.tf"
  fi
  if out="$(cd "$work" && "$tf" validate -no-color 2>&1)"; then
    echo "check-examples: $dir: valid"
  else
    echo "check-examples: $dir: INVALID" >&2
    echo "$out" >&2
    status=1
  fi
done < <(find examples -name '*.tf' -not -path '*/.terraform/*' -exec dirname {} \; | sort -u)
exit $status
