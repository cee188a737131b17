#!/usr/bin/env bash
# `make bench`: runs the project's benchmarks side by side and rewrites BENCHMARKS.md from the
# figures they measured (tests/bench/report.mjs). Figures are measured here, never typed in.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

echo "==> building the release app and server"
trunk build --release >/dev/null
node scripts/postbuild.mjs >/dev/null
cargo build --release -p finsync-server --bins --quiet
export FINSYNC_SERVER_BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/finsync-server"
mkdir -p test-output/bench

echo "==> upload throughput (finsync vs fetch, XHR, Azure SDK, curl) and memory (generates test data in \$TMPDIR once)"
node tests/bench/upload.mjs > test-output/bench/upload.json

echo "==> resume overhead: the same sync uninterrupted vs killed at ~50 % and resumed"
node tests/bench/resume.mjs > test-output/bench/resume.json

echo "==> server load (finsync-load: concurrent simulated clients on loopback)"
FINSYNC_LOAD_BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/finsync-load" \
  node tests/bench/serverload.mjs > test-output/bench/serverload.json

echo "==> first load to interactive, cold and from the service worker"
node tests/bench/load.mjs > test-output/bench/load.json

echo "==> sync page render with 100,000 images in IndexedDB"
node tests/bench/render.mjs > test-output/bench/render.json

echo "==> discovery scan: finsync vs exifr vs the I/O floor (generates 12,500 JPEGs in \$TMPDIR once)"
node tests/bench/scan.mjs > test-output/bench/scan.json

echo "==> plots (headless Chromium draws docs/bench/*.png from the figures)"
node tests/bench/plots.mjs
BENCH_SECONDS=$SECONDS node tests/bench/report.mjs > /dev/null
echo "wrote BENCHMARKS.md in $((SECONDS / 60)) min $((SECONDS % 60)) s"
