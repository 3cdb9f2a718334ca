#!/usr/bin/env bash
# Fails when src/gen differs from what `buf generate` makes of ../../proto now.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
buf generate --output "$tmp"
if ! diff -r "$tmp/src/gen" src/gen; then
  echo "libs/proto/src/gen is stale: run 'npm run proto:gen' and commit the result." >&2
  exit 1
fi
echo "generated code is up to date"
