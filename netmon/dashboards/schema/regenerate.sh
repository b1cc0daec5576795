#!/bin/sh
# Regenerate dashboard.schema.json from Grafana's own TypeScript schema types (npm
# @grafana/schema, the Grafana 11.6 line, as grafana-foundation-sdk is pinned to) with
# ts-json-schema-generator. Needs node + npm and the npm registry; run from anywhere.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund @grafana/schema@11.6.16 ts-json-schema-generator@2 typescript@5 >/dev/null
npx ts-json-schema-generator \
  --path node_modules/@grafana/schema/dist/esm/raw/dashboard/x/dashboard_types.gen.d.ts \
  --type Dashboard --additional-properties --no-type-check \
  -o "$here/dashboard.schema.json"
echo "wrote $here/dashboard.schema.json"
