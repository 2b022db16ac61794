#!/usr/bin/env bash
# Prepares a Debian machine to run medchain: SoftHSM2 and OpenSSL from apt (when
# root; otherwise says what to install), npm dependencies, and the build.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
[ -e /usr/lib/softhsm/libsofthsm2.so ] || missing+=(softhsm2)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: medchain needs these Debian packages: ${missing[*]}" >&2
    echo "setup: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "setup: medchain needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies (builds pkcs11js and sqlite3 from source)"
  npm ci --no-audit --no-fund
fi
npm run --silent build
