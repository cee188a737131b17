#!/usr/bin/env bash
# `make test`: formatting and lints, native tests (core + server against a real Azurite),
# browser unit tests (wasm-bindgen-test in headless Chromium), then the end-to-end suite
# (Playwright driving Chromium against the real app, server and Azurite).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
export CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver}
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "format and lints"
cargo fmt --all -- --check
cargo clippy -p finsync-core -p finsync-server --all-targets --quiet -- -D warnings
cargo clippy -p finsync --target wasm32-unknown-unknown --all-targets --quiet -- -D warnings

step "native tests: core and server (the server's tests start their own Azurite)"
cargo test -p finsync-core -p finsync-server --quiet

step "browser unit tests (wasm-bindgen-test, headless Chromium)"
cargo test -p finsync --target wasm32-unknown-unknown --lib

step "end-to-end: release app + server + Azurite in headless Chromium"
trunk build --release
node scripts/postbuild.mjs
cargo build -p finsync-server --quiet
rm -rf test-output && mkdir -p test-output
node --test --test-concurrency=1 tests/e2e/
