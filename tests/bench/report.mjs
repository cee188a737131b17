// Writes BENCHMARKS.md from the figures the benchmarks left in test-output/bench/*.json and
// from the release bundle in dist/. Nothing here is typed in by hand.
import { readFileSync, readdirSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../e2e/support/env.mjs';

const dir = path.join(ROOT, 'test-output/bench');
const read = (name) => existsSync(path.join(dir, name)) ? JSON.parse(readFileSync(path.join(dir, name), 'utf8')) : null;
const kb = (b) => `${(b / 1000).toFixed(1)} KB`;
const f1 = (x) => x.toFixed(1);
const f2 = (x) => x.toFixed(2);
const sh = (cmd, args) => { try { return execFileSync(cmd, args, { encoding: 'utf8' }).trim(); } catch { return '?'; } };

const dist = path.join(ROOT, 'dist');
const wasm = readdirSync(dist).find(f => f.endsWith('_bg.wasm'));
const js = readdirSync(dist).find(f => /^finsync-.*\.js$/.test(f));
const size = (f) => statSync(path.join(dist, f)).size;
const gz = (f) => gzipSync(readFileSync(path.join(dist, f)), { level: 9 }).length;

let md = `# Benchmarks

Written by \`make bench\` (scripts/bench.sh → tests/bench/*.mjs → tests/bench/report.mjs) on
${new Date().toISOString().slice(0, 10)} — ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}),
${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${sh('rustc', ['--version'])}, ${sh('chromium', ['--version'])}, Azurite 3.35.0 on loopback.
This machine is shared and noisy: compare figures side by side within one run (the ratios), not across runs.

## Release bundle size

\`trunk build --release\` (opt-level z, LTO, wasm-opt -Oz); gzip -9 as a static host would serve it.

| file | raw | gzip -9 |
|---|---|---|
| app wasm | ${kb(size(wasm))} | ${kb(gz(wasm))} |
| JS glue | ${kb(size(js))} | ${kb(gz(js))} |
`;

const up = read('upload.json');
if (up) {
  md += `
## Upload throughput (tests/bench/upload.mjs)

One headless Chromium page, one Azurite, ${up.files} JPEGs of ${up.fileMiB} MiB each, 4 in flight.
finsync's time is the whole sync as a person runs it (fingerprints, encounter, sessions, PUTs,
commits, IndexedDB writes), measured from the click to the summary; the others are bare uploads to
SAS URLs created beforehand.

| client | seconds | MiB/s | finsync ÷ it |
|---|---|---|---|
| finsync (whole sync) | ${f1(up.finsyncSeconds)} | ${f1(up.finsyncMiBps)} | 1.00 |
| bare \`fetch\` PUT pool (4) | ${f1(up.poolSeconds)} | ${f1(up.poolMiBps)} | ${f2(up.finsyncMiBps / up.poolMiBps)} |
| @azure/storage-blob \`uploadData\` (4 files) | ${f1(up.sdkSeconds)} | ${f1(up.sdkMiBps)} | ${f2(up.finsyncMiBps / up.sdkMiBps)} |

Goals (issue 6): ≥ 0.9 × the bare pool, ≥ 1.1 × the SDK.

One file of ${up.bigMiB} MiB:

| client | seconds | MiB/s | finsync ÷ it |
|---|---|---|---|
| finsync (8 MiB blocks, 4 in flight, whole sync) | ${f1(up.finsyncBigSeconds)} | ${f1(up.finsyncBigMiBps)} | 1.00 |
| @azure/storage-blob \`uploadData\` defaults | ${f1(up.sdkBigSeconds)} | ${f1(up.sdkBigMiBps)} | ${f2(up.finsyncBigMiBps / up.sdkBigMiBps)} |

Goal: ≥ 1.25 × the SDK. Memory: the page's renderer processes grew by at most
**${f1(up.rendererRssGrowthMiB)} MiB** (peak VmRSS over the baseline, sampled every 250 ms) while finsync
synced ${f1((up.files * up.fileMiB + up.bigMiB) / 1024)} GiB (goal ≤ 64 MiB).
`;
}
const load = read('serverload.json');
if (load) {
  md += `
## Server load (crates/server/src/bin/load.rs via tests/bench/serverload.mjs)

${load.clients} simulated clients at once against the release server and Azurite on loopback;
each finds or creates its encounter, asks for ${load.imagesPerClient} upload sessions, PUTs the
images (small real JPEGs) and commits them (the server checks, decodes and makes variants).

| call | n | p50 ms | p99 ms |
|---|---|---|---|
| find-or-create | ${load.findOrCreate.n} | ${f1(load.findOrCreate.p50ms)} | ${f1(load.findOrCreate.p99ms)} |
| upload sessions (batch of ${load.imagesPerClient}) | ${load.sessions.n} | ${f1(load.sessions.p50ms)} | ${f1(load.sessions.p99ms)} |
| blob PUT | ${load.put.n} | ${f1(load.put.p50ms)} | ${f1(load.put.p99ms)} |
| commit (batch of ${load.imagesPerClient}) | ${load.commit.n} | ${f1(load.commit.p50ms)} | ${f1(load.commit.p99ms)} |

${load.committed} images committed in ${f1(load.seconds)} s (${f1(load.imagesPerSecond)} images/s,
${f1(load.requestsPerSecond)} requests/s); errors: ${load.errors.length}; the server then counted
${load.serverImageCount} images (lost writes: ${load.committed - load.serverImageCount}).
`;
}
writeFileSync(path.join(ROOT, 'BENCHMARKS.md'), md);
console.log(md);
