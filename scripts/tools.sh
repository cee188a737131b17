#!/usr/bin/env bash
# Installs what building and testing finsync needs, idempotently, at pinned versions.
# Nothing here downloads a prebuilt binary: Rust tools are built from crates.io, JavaScript
# tools come from the npm registry into ./node_modules, Chromium from Debian's packages.
set -euo pipefail
cd "$(dirname "$0")/.."

TRUNK_VERSION=0.21.14
WASM_BINDGEN_VERSION=0.2.130   # must equal Cargo.lock's wasm-bindgen

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# `--app-only` (make run, make dist): everything to build and serve the app, but not the
# headless browser that only the tests and benchmarks drive.
browser=yes
[ "${1:-}" = "--app-only" ] && browser=no

if [ "$browser" = yes ] && { ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; }; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian chromium + chromium-driver (browser tests)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "chromium and chromedriver are needed for the browser tests: install Debian's chromium and chromium-driver" >&2
    exit 1
  fi
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

lock_wbg=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')
if [ "$lock_wbg" != "$WASM_BINDGEN_VERSION" ]; then
  echo "Cargo.lock has wasm-bindgen $lock_wbg but scripts/tools.sh pins $WASM_BINDGEN_VERSION: update both together" >&2
  exit 1
fi

if [ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]; then
  say "building trunk $TRUNK_VERSION from crates.io (about 8 minutes, once)"
  cargo install trunk --version "$TRUNK_VERSION" --locked --quiet
fi

if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ] ||
   [ "$(wasm-bindgen-test-runner --version 2>/dev/null)" != "wasm-bindgen-test-runner $WASM_BINDGEN_VERSION" ]; then
  say "building wasm-bindgen-cli $WASM_BINDGEN_VERSION from crates.io (about 2.5 minutes, once)"
  # Not --locked: its lockfile pins a webpki-roots the registry here does not have.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force --quiet
fi

if [ -L node_modules ]; then
  # A shared node_modules (e.g. a git worktree linking the main checkout's): never let
  # npm ci delete it from under its owner.
  echo "node_modules is a symlink; not reinstalling JavaScript tools" >&2
elif [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing JavaScript tools from package-lock.json (Azurite, binaryen, playwright-core)"
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ "$(node_modules/.bin/wasm-opt --version 2>/dev/null | awk '{print $3}')" != "132" ]; then
  echo "node_modules/.bin/wasm-opt is not binaryen 132; run npm ci" >&2
  exit 1
fi
