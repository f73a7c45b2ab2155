#!/usr/bin/env bash
# noderoll demo: a pool of 4 nodes on this machine, rolled from v1 to v2 by
# `terraform apply`, then a broken v3 that fails its health checks and is
# rolled back, then destroyed. Each node is a process of the demo app
# (examples/local/app) on its own 127.x.y.z address.
#
# Needs Go. Builds Terraform from source when it is missing (once, a few
# minutes), the provider and the demo app; downloads nothing else. Terraform
# finds the provider through a dev_overrides CLI configuration, so no
# `terraform init` is needed. Everything happens in a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

bold=$'\e[1m' dim=$'\e[2m' off=$'\e[0m'
[ -t 1 ] || { bold='' dim='' off=''; }
step() { printf '\n%s==> %s%s\n' "$bold" "$*" "$off"; }
say() { printf '    %s\n' "$@"; }

command -v go >/dev/null || { echo "demo: needs Go (https://go.dev/dl/)" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/noderoll-demo.XXXXXX")"
tf_in_work() { (cd "$work/config" && "$tf" "$@"); }
cleanup() {
  # Whatever happened, leave no node process behind.
  if [ -f "$work/config/terraform.tfstate" ]; then
    tf_in_work destroy -auto-approve -no-color -var "app=$work/bin/app" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

step "Preparing: Terraform, the noderoll provider and the demo app"
tf="$(scripts/ensure-terraform.sh)"
say "terraform: $tf ($("$tf" version 2>/dev/null | head -1))"
go build -o "$work/bin/terraform-provider-noderoll" .
go build -o "$work/bin/app" ./examples/local/app
say "provider and app built into $work/bin"
cat >"$work/dev.tfrc" <<RC
provider_installation {
  dev_overrides {
    "noderoll/noderoll" = "$work/bin"
  }
  direct {}
}
RC
export TF_CLI_CONFIG_FILE="$work/dev.tfrc" CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
mkdir -p "$work/config"
cp examples/local/main.tf "$work/config/"
say "configuration: examples/local/main.tf (copied to $work/config)"
say "Terraform uses the provider just built (dev_overrides), so there is no terraform init."

app=(-var "app=$work/bin/app")

# http_get URL prints the response body, with curl or, without it, bash's
# /dev/tcp (the demo needs nothing beyond Go and bash).
http_get() {
  if command -v curl >/dev/null; then
    curl -s --max-time 1 "$1"
    return
  fi
  local rest="${1#http://}" hostport path
  hostport="${rest%%/*}" path="/${rest#*/}"
  timeout 1 bash -c 'exec 3<>"/dev/tcp/${1%:*}/${1##*:}" || exit 1
    printf "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" "$2" "$1" >&3
    sed "1,/^\r\{0,1\}$/d" <&3' _ "$hostport" "$path"
}

# show_nodes asks every node which version it serves, as a load balancer would.
show_nodes() {
  local urls
  urls="$(tf_in_work output -json nodes | tr -d '[]"' | tr ',' '\n' | awk '{print $2}')"
  for u in $urls; do
    printf '    %-40s %s\n' "$u" "$(http_get "$u" 2>/dev/null || echo 'no answer')"
  done
}

# Plans print every node; keep the parts a reviewer reads.
plan_digest() {
  awk '/will be (created|updated|destroyed)|~ image|\+ image/ {print "    " $0}
       /rollout_plan *= *\{/ {p=1}
       p {print "    " $0}
       p && /^ *}( ->.*)?$/ {p=0}
       /^Plan:/ {print "    " $0; exit}'
}

step "1. Create a pool of 4 nodes running v1"
say "terraform apply starts 4 processes and waits until each passes its health check (GET /healthz)."
tf_in_work apply -auto-approve -no-color "${app[@]}" -var image=v1 >"$work/apply-v1.log" 2>&1 || { cat "$work/apply-v1.log"; exit 1; }
grep -E 'Creation complete|Apply complete' "$work/apply-v1.log" | sed 's/^/    /'
say "" "The nodes answer:"
show_nodes

step "2. Review the change to v2: terraform plan"
say "The plan's rollout_plan says what the apply will do: the waves, how many nodes are replaced,"
say "the fewest healthy nodes the pool will have, and an estimate from the timings measured so far."
tf_in_work plan -no-color "${app[@]}" -var image=v2 >"$work/plan-v2.log" 2>&1 || { cat "$work/plan-v2.log"; exit 1; }
plan_digest <"$work/plan-v2.log"

step "3. Roll to v2: terraform apply"
say "One new node at a time (max_surge 1, max_unavailable 0): each old node is removed only after its"
say "replacement has been healthy for min_ready, so the pool never serves with fewer than 4 nodes."
start=$(date +%s)
TF_LOG=JSON TF_LOG_PATH="$work/apply-v2.tflog" \
  tf_in_work apply -auto-approve -no-color "${app[@]}" -var image=v2 >"$work/apply-v2.log" 2>&1 || { cat "$work/apply-v2.log"; exit 1; }
say "Progress, from the provider's INFO log lines (run with TF_LOG=INFO to see them live):"
grep -oE '"@message":"node pool: (wave_started|node_healthy|node_removed|rolling_back|finished)[^"]*"' "$work/apply-v2.tflog" |
  sed -e 's/^"@message":"node pool: /      /' -e 's/"$//' -e 's/ template=tpl-[0-9a-f]*//' -e 's/:$//'
say "" "The apply ends with a summary (shown by Terraform as a warning):"
sed -n '/Warning: Node Pool Rollout Finished/,/^Apply complete/p' "$work/apply-v2.log" | grep -vE '^\s*(with|on|[0-9]+:)' | sed 's/^/    /'
say "Took $(( $(date +%s) - start ))s. The nodes now answer:"
show_nodes

step "4. Try a broken v3: its /healthz answers 500"
say "The first v3 node never passes its health check. After node_deadline (8s) the wave fails,"
say "noderoll points the pool back at v2, removes the v3 node, and the apply fails with a report."
if tf_in_work apply -auto-approve -no-color "${app[@]}" -var image=v3 >"$work/apply-v3.log" 2>&1; then
  echo "demo: the v3 apply was expected to fail" >&2
  exit 1
fi
sed -n '/^Error:/,$p' "$work/apply-v3.log" | grep -vE '^\s*(with|on) |^\s*[0-9]+: ' | sed 's/^/    /'
say "" "The apply failed, as it should, and the pool still serves v2 on every node:"
show_nodes

step "5. What Terraform now records: terraform output"
say "The pool's state follows the pool: image v2, and last_rollout says the v3 attempt was rolled back."
say "(A failed apply leaves root outputs as planned; a refresh-only apply recomputes them from the state.)"
tf_in_work apply -refresh-only -auto-approve -no-color "${app[@]}" -var image=v3 >"$work/refresh.log" 2>&1 || { cat "$work/refresh.log"; exit 1; }
tf_in_work output -no-color | sed 's/^/    /'

step "6. Clean up: terraform destroy"
say "Every node is drained and stopped, and the pool's state directory removed."
tf_in_work destroy -auto-approve -no-color "${app[@]}" -var image=v2 2>&1 | grep -E 'Destruction complete|Destroy complete' | sed 's/^/    /'
if pgrep -f "$work/bin/app" >/dev/null; then
  echo "demo: node processes are still running after destroy" >&2
  exit 1
fi
say "No node process is left."
printf '\n%sDone.%s See examples/local/main.tf and docs/resources/node_pool.md.\n' "$bold" "$off"
