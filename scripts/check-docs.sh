#!/usr/bin/env bash
# Fails when the provider's pages in docs/ are not what scripts/docs.sh
# generates from the current schema, templates and examples: regenerate into
# a temporary copy of the tree and compare.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# The provider must build from the copy: take the tracked and new files,
# not build outputs.
git ls-files --cached --others --exclude-standard -z | xargs -0 cp --parents -t "$tmp" 2>/dev/null || true
rm -rf "$tmp/docs"
(cd "$tmp" && scripts/docs.sh docs >/dev/null)
status=0
for p in index.md resources data-sources; do
  if [ -e "docs/$p" ] || [ -e "$tmp/docs/$p" ]; then
    diff -ru "docs/$p" "$tmp/docs/$p" || status=1
  fi
done
if [ $status -ne 0 ]; then
  echo >&2
  echo "check-docs: docs/ is stale: run scripts/docs.sh (make generate) and commit docs/." >&2
  exit 1
fi
echo "check-docs: docs/ is up to date."
