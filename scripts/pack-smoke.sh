#!/usr/bin/env bash
# Packs the package, installs the tarball in an empty project from the npm cache only, and runs it with npx.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tarball="$(cd "$root" && npm pack --silent --pack-destination "$work" | tail -n 1)"
cd "$work"
npm init -y >/dev/null
npm install --offline --no-audit --no-fund "./$tarball" >/dev/null 2>&1
version="$(npx --offline matomo-forward --version)"
expected="$(node -p "require('$root/package.json').version")"
[ "$version" = "$expected" ] || { echo "pack smoke: --version printed '$version', expected '$expected'" >&2; exit 1; }
out="$(npx --offline matomo-forward read --dry-run --idsite 1 --log-level silent - <"$root/fixtures/logs/pino-http.ndjson" 2>/dev/null)"
[ "$(printf '%s\n' "$out" | grep -c '"idsite":1')" -ge 1 ] || { echo "pack smoke: no hit printed by the installed package" >&2; exit 1; }
echo "pack smoke: installed tarball $tarball runs with npx (version $version)"
