#!/usr/bin/env bash
# `make bench`: runs the project's benchmarks and rewrites BENCHMARKS.md with the figures,
# the date and the machine. Figures are measured here, never typed in.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

trunk build --release >/dev/null
wasm=$(ls dist/*_bg.wasm)
js=$(ls dist/finsync-*.js)
size() { stat -c %s "$1"; }
gz() { gzip -9 -c "$1" | wc -c; }
kb() { awk -v b="$1" 'BEGIN { printf "%.1f KB", b / 1000 }'; }

wasm_raw=$(size "$wasm"); wasm_gz=$(gz "$wasm")
js_raw=$(size "$js"); js_gz=$(gz "$js")

cat > BENCHMARKS.md <<MD
# Benchmarks

Written by \`make bench\` (scripts/bench.sh) on $(date -u +%Y-%m-%d) —
$(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM,
$(rustc --version), $(trunk --version), wasm-opt $(wasm-opt --version | awk '{print $3}').
This machine is shared and noisy: compare figures side by side within one run, not across runs.

## Release bundle size

\`trunk build --release\` (opt-level z, LTO, wasm-opt -Oz); gzip -9 as a static host would serve it.

| file | raw | gzip -9 |
|---|---|---|
| app wasm | $(kb "$wasm_raw") | $(kb "$wasm_gz") |
| JS glue | $(kb "$js_raw") | $(kb "$js_gz") |
MD
echo "wrote BENCHMARKS.md"
cat BENCHMARKS.md
