// Writes BENCHMARKS.md from the figures the benchmarks left in test-output/bench/*.json and
// from the release bundle in dist/. Nothing here is typed in by hand.
// `node tests/bench/report.mjs scan` rewrites only the named sections (by their JSON file's
// name) in the existing BENCHMARKS.md, each marked with the date it was measured, and keeps the
// rest as the last full run wrote it.
import { readFileSync, readdirSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { gzipSync, brotliCompressSync, constants } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../e2e/support/env.mjs';
import { cargoWasm, bound, functionSizes, byArea } from './wasm-size.mjs';

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
const br = (f) => brotliCompressSync(readFileSync(path.join(dist, f)), { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
const WASM_BUDGET_GZIP = 300 * 1000;
// Charts drawn by plots.mjs from the same figures (docs/bench/*.png), embedded where present.
const plot = (name, alt) => existsSync(path.join(ROOT, 'docs/bench', `${name}.png`)) ? `\n![${alt}](docs/bench/${name}.png)\n` : '';

let md = `# Benchmarks

Written by \`make bench\` (scripts/bench.sh → tests/bench/*.mjs → tests/bench/report.mjs) on
${new Date().toISOString().slice(0, 10)} — ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}),
${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${sh('rustc', ['--version'])}, ${sh('chromium', ['--version'])}, Azurite 3.35.0 on loopback.
This machine is shared and noisy: compare figures side by side within one run (the ratios), not across runs.${process.env.BENCH_SECONDS ? `
This run of scripts/bench.sh took, end to end, ${Math.floor(process.env.BENCH_SECONDS / 60)} min ${process.env.BENCH_SECONDS % 60} s.` : ''}
`;

// Where the bytes are: function code sizes by area, from the names cargo's release wasm keeps
// (tests/bench/wasm-size.mjs); left out when that wasm is missing or has no names.
let named = null;
try { named = existsSync(cargoWasm()) ? functionSizes(bound(cargoWasm())) : null; } catch (e) { console.error(`wasm-size: ${e.message}`); }
const areas = named?.named ? byArea(named.functions) : null;
const TOP = 16;
const share = (bytes) => `${(100 * bytes / named.code).toFixed(1)} %`;
const rest = areas ? areas.slice(TOP).reduce((x, [, b]) => x + b, 0) : 0;
const breakdown = areas ? `
Where the bytes are (tests/bench/wasm-size.mjs): the code size of each function, from the names in
cargo's release wasm after wasm-bindgen, before wasm-opt (${kb(named.code)} of code in ${named.functions.length.toLocaleString('en')}
functions, ${kb(named.data)} of data); wasm-opt then shrinks the code, the shares change little. The views are
mostly Leptos's generic code compiled once per view (each \`view!\` is a tree of tachys types
with its own build and rebuild code), and "Rust std" is mostly std's generic code compiled for
the app's types (drop glue, \`Vec\`, \`Option\`, iterators, \`Rc\`/\`RefCell\`).

| area | code before wasm-opt | share |
|---|---|---|
${areas.slice(0, TOP).map(([a, bytes]) => `| ${a} | ${kb(bytes)} | ${share(bytes)} |`).join('\n')}
| ${areas.length - TOP} more crates and modules | ${kb(rest)} | ${share(rest)} |
` : '';

const sizeSection = `## Release bundle size

\`trunk build --release\` (opt-level z, LTO, Leptos \`erase_components\`, wasm-opt -Oz), then
scripts/postbuild.mjs, which stores a brotli (quality 11) and a gzip (-9) copy of each file; the
reference server sends the brotli one to browsers that accept it (all current ones).

| file | raw | gzip -9 | brotli 11 |
|---|---|---|---|
| app wasm | ${kb(size(wasm))} | ${kb(gz(wasm))} | ${kb(br(wasm))} |
| JS glue | ${kb(size(js))} | ${kb(gz(js))} | ${kb(br(js))} |

Budget (issue 9): the wasm ≤ ${kb(WASM_BUDGET_GZIP)} gzip — **${gz(wasm) <= WASM_BUDGET_GZIP ? 'met' : `over by ${kb(gz(wasm) - WASM_BUDGET_GZIP)}`}**.
${breakdown}`;

// `node tests/bench/report.mjs --size`: rewrites only this section of BENCHMARKS.md (after a
// release build; the other sections need the benchmarks' figures).
if (process.argv.includes('--size')) {
  const file = path.join(ROOT, 'BENCHMARKS.md');
  const old = readFileSync(file, 'utf8');
  const at = old.indexOf('## Release bundle size');
  if (at < 0) throw new Error('BENCHMARKS.md has no "## Release bundle size" section');
  const next = old.indexOf('\n## ', at + 1);
  writeFileSync(file, old.slice(0, at) + sizeSection + (next < 0 ? '' : old.slice(next)));
  console.log(sizeSection);
  process.exit(0);
}

md += `
${sizeSection}`;

const firstLoad = read('load.json');
if (firstLoad) {
  const ms = (x) => `${Math.round(x)} ms`;
  md += `
## First load (tests/bench/load.mjs)

Headless Chromium against the reference server (release build) serving the bundle; median of
${firstLoad.runs} runs. *Interactive*: the folder input is in the page and enabled. *Key ready*: the
status bar says "API key ready" (IndexedDB opened, the demo settings fetched, the server's status
answered). Cold = a fresh browser context (no HTTP cache, no service worker); warm = a reload
served by the service worker's cache. Throttled = Chromium's network emulation at
${firstLoad.throttle.downMbps} Mbit/s down, ${firstLoad.throttle.upMbps} Mbit/s up, ${firstLoad.throttle.rttMs} ms RTT.

| load | interactive | key ready | bytes transferred |
|---|---|---|---|
| cold, loopback | ${ms(firstLoad.cold.interactiveMs)} | ${ms(firstLoad.cold.readyMs)} | ${kb(firstLoad.cold.bytes)} |
| cold, throttled | ${ms(firstLoad.coldThrottled.interactiveMs)} | ${ms(firstLoad.coldThrottled.readyMs)} | ${kb(firstLoad.coldThrottled.bytes)} |
| warm (service worker) | ${ms(firstLoad.warm.interactiveMs)} | ${ms(firstLoad.warm.readyMs)} | ${kb(firstLoad.warm.bytes)} |
`;
}

const render = read('render.json');
if (render) {
  const ms = (x) => `${Math.round(x)} ms`;
  md += `
## Sync page with a big library (tests/bench/render.mjs)

${render.images.toLocaleString('en')} images (${render.encounters.toLocaleString('en')} encounters of ${render.images / render.encounters}) in IndexedDB, written as an
older build stored them (schema v4); the app's own upgrade builds the v5 aggregates on the first
open. Each run then navigates to the app and is timed from navigation start until the population
card shows the library's counts (it showed ${render.shownImagesSynced.toLocaleString('en')} images synced). Median of ${render.runs} runs,
headless Chromium, release bundle served by the reference server.

| | time |
|---|---|
| sync page to counts, ${render.images.toLocaleString('en')} images | **${ms(render.renderMs)}** |
| same page, empty library | ${ms(render.emptyMs)} (big ÷ empty: ${f2(render.renderMs / render.emptyMs)}) |
| bare IndexedDB read of every plan and image status (${render.rawRecords.toLocaleString('en')} records, what the page read before v5, not even decoded) | ${ms(render.rawReadMs)} |
| first open: v4 → v5 upgrade building the aggregates, to counts | ${ms(render.upgradeMs)} (once) |

Goal (issue 7): the sync page renders in under 300 ms with 100,000 images — **${render.renderMs < 300 ? 'met' : 'not met'}**.
`;
}

const up = read('upload.json');
const uploadFrom = md.length;
if (up) {
  const rounds = up.rounds ?? 1;
  const per = (k) => up.runs?.[k] ? ` (${up.runs[k].map(f1).join(', ')})` : '';
  const perBig = (k) => up.bigRuns?.[k] ? ` (${up.bigRuns[k].map(f1).join(', ')})` : '';
  const met = (x, goal) => x >= goal ? 'met' : 'not met';
  const vsPool = up.finsyncMiBps / up.poolMiBps, vsSdk = up.finsyncMiBps / up.sdkMiBps;
  const vsSdkBig = up.finsyncBigMiBps / up.sdkBigMiBps;
  const tl = up.finsyncTimeline, btl = up.finsyncBigTimeline;
  const busy = (k) => up.mainThread?.[k] ? f1(up.mainThread[k].TaskDuration) : '?';
  const azuriteCpu = (k) => (up.cpuRuns?.[k] ?? []).map(c => f1(c.azurite)).join(', ');
  md += `
## Upload throughput (tests/bench/upload.mjs)

${process.env.BENCH_ONLY === 'upload' ? `Measured again on its own on ${new Date().toISOString().slice(0, 10)} (\`BENCH_ONLY=upload\`: upload.mjs, plots.mjs, report.mjs); the other sections are from the last whole run.

` : ''}One headless Chromium page, ${up.files} JPEGs of ${up.fileMiB} MiB each, 4 in flight, each timed run against an Azurite of its own.
finsync's time is the whole sync as a person runs it (fingerprints, encounter, sessions, PUTs,
commits, IndexedDB writes); the others are bare uploads to SAS URLs created beforehand.${up.loadAverageAtStart === undefined ? '' : `
The machine's 1-minute load average was ${f1(up.loadAverageAtStart)} at the start and ${f1(up.loadAverageAtEnd)} at the end (2 cores).`}
Method: every client's turn in every round runs on a new stack in the same state — Azurite with
an empty \`--location\` and the server with an empty database, on new ports — because one Azurite
for the whole run slowed each client down round after round: its LokiJS metadata database
scans every blob or block stored before on each lookup and saves itself whole every 5 s. The
page loads the new stack's app (a new origin: an empty IndexedDB, the app as on a first visit,
concurrency set to 4), then an untimed warm-up sends 20 files to the new Azurite by a bare XHR
pool. The five clients run in ${rounds} rounds, the order rotated each round (${(up.orders ?? []).map(o => o.join(' → ')).join('; ')});
each figure is the client's median round (the rounds' seconds in brackets). Every browser client is
timed in the page with \`performance.now()\`: the baselines around their upload promise, finsync
from the Upload click (a capturing click listener) to the summary's appearance (a
MutationObserver). Each finsync round syncs another folder name (hard links to the same files),
so each round is a new encounter with new idempotency keys that uploads everything.

| client | seconds, median${rounds > 1 ? ' (rounds)' : ''} | MiB/s | finsync ÷ it |
|---|---|---|---|
| finsync (whole sync) | ${f1(up.finsyncSeconds)}${per('finsync')} | ${f1(up.finsyncMiBps)} | 1.00 |
| bare \`fetch\` PUT pool (4) | ${f1(up.poolSeconds)}${per('pool')} | ${f1(up.poolMiBps)} | ${f2(vsPool)} |
| bare \`XMLHttpRequest\` PUT pool (4), finsync's transport | ${f1(up.xhrPoolSeconds)}${per('xhrPool')} | ${f1(up.xhrPoolMiBps)} | ${f2(up.finsyncMiBps / up.xhrPoolMiBps)} |
| @azure/storage-blob \`uploadData\` (4 files) | ${f1(up.sdkSeconds)}${per('sdk')} | ${f1(up.sdkMiBps)} | ${f2(vsSdk)} |
| curl \`--parallel --parallel-max 4 -T\` (outside the browser) | ${f1(up.curlSeconds)}${per('curl')} | ${f1(up.curlMiBps)} | ${f2(up.finsyncMiBps / up.curlMiBps)} |
${plot('upload', 'Upload throughput by client, MiB/s')}
Goals (issue 6): ≥ 0.9 × the bare pool — **${met(vsPool, 0.9)}** (${f2(vsPool)}), ≥ 1.1 × the SDK — **${met(vsSdk, 1.1)}** (${f2(vsSdk)}${up.vsSdkPerRound ? `; round by round ${up.vsSdkPerRound.map(f2).join(', ')}` : ''}).
Commit checks size, MD5 and the image header; the server's background queue (it waits while
uploads go on) then made the thumbnails and previews, done ${f1(up.variantsAfterSeconds)} s after finsync's summary (its
stack is stopped only then, and the next client has a stack of its own).
Where finsync's time went in its round nearest the median (the page's resource timings): the first request ${f2(tl.toFirstRequest)} s after the click
(planning: fingerprints, IndexedDB), the first PUT at ${f2(tl.toFirstPut)} s, the last PUT's end at ${f2(tl.lastPutEnd)} s, the summary at ${f2(tl.total)} s;
fewer than 4 PUTs in flight for ${f1(tl.putsUnder4InFlight)} s of that; PUT p50 ${f2(tl.kinds.put.p50)} s, commit p50 ${f2(tl.kinds.commit.p50)} s
(${tl.kinds.commit.n} commits). The page's main thread was busy (median) ${busy('finsync')} s during finsync's sync, ${busy('xhrPool')} s during the XHR pool's, ${busy('fetchPool')} s during the fetch pool's, ${busy('sdk')} s during the SDK's.
${up.cpuRuns ? `Azurite's CPU seconds round by round, each round on a new Azurite: finsync ${azuriteCpu('finsync')}; fetch pool ${azuriteCpu('pool')};
XHR pool ${azuriteCpu('xhrPool')}; SDK ${azuriteCpu('sdk')}; curl ${azuriteCpu('curl')} (the server's during finsync's: ${up.cpuRuns.finsync?.map(c => f1(c.server)).join(', ')}).
` : ''}${up.finsyncBigSeconds === undefined ? '' : `
One file of ${up.bigMiB} MiB, the clients taking turns (${(up.bigOrders ?? []).map(o => o.join(' → ')).join('; ')}), medians:

| client | seconds, median (rounds) | MiB/s | finsync ÷ it |
|---|---|---|---|
| finsync (8 MiB blocks with Content-MD5, 4 in flight, whole sync) | ${f1(up.finsyncBigSeconds)}${perBig('finsync')} | ${f1(up.finsyncBigMiBps)} | 1.00 |
| @azure/storage-blob \`uploadData\` defaults (4 MiB blocks, 5 in flight, no MD5) | ${f1(up.sdkBigSeconds)}${perBig('sdk')} | ${f1(up.sdkBigMiBps)} | ${f2(vsSdkBig)} |
${['xhrBlocks', 'xhrBlocksMd5'].filter(k => up.bigMedians?.[k]).map(k => `| bare XHR Put Block pool, 8 MiB × 4, ${k === 'xhrBlocks' ? 'no MD5' : 'Content-MD5 computed beforehand'} | ${f1(up.bigMedians[k])}${perBig(k)} | ${f1(up.bigMiB / up.bigMedians[k])} | ${f2(up.bigMedians[k] / up.finsyncBigSeconds)} |`).join('\n')}

Goal: ≥ 1.25 × the SDK — **${met(vsSdkBig, 1.25)}** (${f2(vsSdkBig)}${up.bigVsSdkPerRound ? `; round by round ${up.bigVsSdkPerRound.map(f2).join(', ')}` : ''}).
finsync's round nearest the median: first Put Block at ${f2(btl.toFirstPut)} s, the last block's end at ${f2(btl.lastPutEnd)} s
(${btl.kinds.put.n} PUTs, p50 ${f2(btl.kinds.put.p50)} s), commit ${btl.kinds.commit ? `${f2(btl.kinds.commit.p50)} s` : '?'} (${btl.commits?.map(([a, b]) => `${f2(a)}–${f2(b)} s`).join(', ')}), the summary at ${f2(btl.total)} s;
the page's main thread was busy ${busy('finsyncBig')} s (the SDK's run: ${busy('sdkBig')} s).
`}
Memory (goal ≤ 64 MiB of growth during a 2 GB sync): ${up.oneSyncRssGrowthMiB === undefined ? '' : `one sync of ${f2(up.oneSyncGiB)} GiB (the ${up.files ?? 200} files and the
big one in one folder, ${f1(up.oneSyncSeconds)} s, on a fresh stack after the timed rounds) grew the page's renderer processes by
**${f1(up.oneSyncRssGrowthMiB)} MiB** — ${met(64 / up.oneSyncRssGrowthMiB, 1)}. `}Within each of finsync's timed runs the renderer grew by
${(up.rendererRssGrowthPerRunMiB ?? []).map(f1).join(', ')} MiB (at most **${f1(Math.max(...(up.rendererRssGrowthPerRunMiB ?? [0])))} MiB**).
Growth is the peak VmRSS over the RSS at the run's start (the app loaded, the folder picked, the
previous origin's renderer gone), sampled every 250 ms.
${plot('memory', 'Renderer memory over time during finsync\'s syncs')}`;
}
const uploadSection = md.slice(uploadFrom);
const resume = read('resume.json');
if (resume) {
  const a = resume.uninterrupted, b = resume.interrupted;
  md += `
## Resume overhead (tests/bench/resume.mjs)

The same sync of ${resume.files} JPEGs of ${resume.fileMiB} MiB (4 in flight, a persistent Chromium profile,
a fresh server and Azurite each), side by side: once uninterrupted, once with the browser killed
(SIGKILL) when ${b.answeredAtKill} PUTs had been answered, relaunched on the same profile, the folder
selected again and the sync finished (the resume banner was ${b.bannerShown ? '' : '**not** '}shown; summary: "${b.summary}").
The interrupted run's time is click → kill plus relaunch → summary; both runs were checked on
the server (${resume.files} images, none twice).

| | seconds | PUTs | MiB PUT |
|---|---|---|---|
| uninterrupted | ${f1(a.seconds)} | ${a.puts} | ${f1(a.bytes / 2 ** 20)} |
| killed and resumed | ${f1(b.seconds)} (${f1(b.beforeKillSeconds)} before the kill + ${f1(b.afterRelaunchSeconds)} after the relaunch) | ${b.putsBefore} + ${b.putsAfter} | ${f1(b.bytes / 2 ** 20)} |
| **resume overhead** | **${f1(resume.extraSeconds)}** | ${resume.resentPuts} re-sent | **${f1(resume.resentMiB)}** re-sent |

From the relaunch: the app ready (API key ready) after ${f1(b.relaunchToReadySeconds)} s, the first PUT after
${f1(b.relaunchToFirstPutSeconds)} s (${f2(b.clickToFirstPutSeconds)} s after the Upload click; uninterrupted, click to first PUT:
${f2(a.clickToFirstPutSeconds)} s).
${plot('resume', 'Resume overhead, seconds')}`;
}
const load = read('serverload.json');
if (load) {
  md += `
## Server load (crates/server/src/bin/load.rs via tests/bench/serverload.mjs)

${load.clients} simulated clients at once against the release server and Azurite on loopback;
each finds or creates its encounter, asks for ${load.imagesPerClient} upload sessions, PUTs the
images (small real JPEGs) and commits them (the server checks size, MD5 and the image header;
its background queue makes the variants afterwards).

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
const scan = read('scan.json');
if (scan) {
  const fp = scan.finsyncFingerprintedSeconds !== undefined;
  const met = (x, goal) => x >= goal ? 'met' : 'not met';
  const secs = (xs) => (xs || []).map(f1).join(', ');
  const rounds = scan.roundSeconds ? {
    length: scan.rounds, finsync: secs(scan.roundSeconds.finsync), exifr: secs(scan.roundSeconds.exifr),
    floor: secs(scan.roundSeconds.floor), fp: secs(scan.roundFingerprintedSeconds),
    vsFloor: scan.roundVsFloor.map(f2).join(', '),
  } : { length: 1 };
  md += `
## Discovery scan (tests/bench/scan.mjs)

One headless Chromium page, ${scan.files} generated camera-like JPEGs (EXIF date, offset, GPS, artist,
model; ${f1(scan.avgFileKB)} KB on average, followed by trailing data as cameras append previews, so
the fingerprint's last 64 KiB is a read of its own, as on real photos). Each contender gets the
folder chosen afresh through an \`<input webkitdirectory>\`; exifr and the floor work 4 files at a
time in the page, finsync as the app does: its two reader workers (scan-reader.js) with 12 files in
flight. After an untimed warm-up (every file's first and last 64 KiB read once, so all meet a warm
disk cache; each contender once over ${scan.smallFiles} other files, so its code is warm) come ${rounds.length} rounds, each
contender once per round over the ${scan.files} files with the order rotated by one each round; a
figure below is the contender's median round. Every finsync round is a first scan doing all the
work (a folder of its own name: hard links to the same files). finsync's figures come from the
job's own times as stored in IndexedDB. *Metadata pass*:
the scan as the Discover page runs it — walk, one 64 KiB prefix read per file in a worker (more only
when the JPEG's segments run past it), EXIF/IPTC parse in WASM, IndexedDB writes in batches of 200 — until the job
is Done and usable for grouping and review. *Until fingerprints are stored*: from the same start
until the job's fingerprint phase (first and last 64 KiB of every image, SHA-256, batched writes)
has fingerprinted every image; a sync that needs a fingerprint sooner computes it then.

| contender | seconds | files/s | finsync ÷ it |
|---|---|---|---|
| finsync scan, metadata pass (scan + metadata + IndexedDB) | ${f1(scan.finsyncSeconds)} | ${f1(scan.finsyncFilesPerSec)} | 1.00 |
${fp ? `| finsync scan, until every fingerprint is stored | ${f1(scan.finsyncFingerprintedSeconds)} | ${f1(scan.finsyncFingerprintedFilesPerSec)} | ${f2(scan.finsyncFilesPerSec / scan.finsyncFingerprintedFilesPerSec)} |
` : ''}| exifr \`parse(file, cachedOptions)\` (full build, picked tags, chunked) | ${f1(scan.exifrSeconds)} | ${f1(scan.exifrFilesPerSec)} | ${f2(scan.vsExifr)} |
| I/O floor: \`slice(0, 65536).arrayBuffer()\` | ${f1(scan.floorSeconds)} | ${f1(scan.floorFilesPerSec)} | ${f2(scan.vsFloor)} |

${rounds.length > 1 ? `Rounds, in seconds (the order rotated): finsync ${rounds.finsync}; exifr ${rounds.exifr}; the floor ${rounds.floor}${rounds.fp ? `; finsync until every fingerprint is stored ${rounds.fp}` : ''}.
finsync ÷ the floor within each round: ${rounds.vsFloor}.
` : ''}Goals (issue 5), scan + metadata: ≥ 1.25 × exifr — **${met(scan.vsExifr, 1.25)}** (${f2(scan.vsExifr)}), ≥ 0.9 × the floor — **${met(scan.vsFloor, 0.9)}** (${f2(scan.vsFloor)}${scan.roundVsFloor ? `; reached in ${scan.roundVsFloor.filter(x => x >= 0.9).length} of ${scan.roundVsFloor.length} rounds` : ''}).${fp ? `
Until every fingerprint is stored: ${f2(scan.fingerprintedVsExifr)} × exifr, ${f2(scan.fingerprintedVsFloor)} × the floor.` : ''}
Memory (goal: flat in the number of files): while finsync scanned${fp ? ' and fingerprinted' : ''} ${scan.smallFiles} files the renderer's VmRSS peaked ${f1(scan.rssGrowthSmallMiB)} MiB over
the baseline and kept ${f1(scan.retainedSmallMiB)} MiB after a full GC; for ${scan.files} files
${f1(scan.rssGrowthMiB)} MiB peak and ${f1(scan.retainedMiB)} MiB kept${rounds.length > 1 ? ' (medians of the rounds)' : ''}.${scan.wasmHeapMiB === undefined ? '' : ` The app's WASM heap (its high-water
mark: linear memory never shrinks) was ${f1(scan.wasmHeapSmallMiB)} MiB after the ${scan.smallFiles} files and ${f1(scan.wasmHeapMiB)} MiB after the first ${scan.files}${scan.roundWasmHeapMiB ? ` (after each round's: ${scan.roundWasmHeapMiB.map(f1).join(', ')} MiB)` : ''}.`}${scan.fileListRetainedMiB === undefined ? '' : ` For scale, the
browser alone keeps ${f1(scan.fileListRetainedMiB)} MiB after GC for the ${scan.files} \`File\` objects of one more
\`<input webkitdirectory>\` of the same folder, each stat'ed once: a picked folder's list is held
by its input (and by the app, for thumbnails and the fingerprint phase) and grows with it.`}
${plot('scan', 'Discovery scan files/s by contender')}`;
}

// `node report.mjs scan upload` (or BENCH_ONLY=upload): rewrite just those sections.
const only = [...process.argv.slice(2), ...(process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(',') : [])];
if (only.length) {
  // Splice the named sections, freshly written above, into the BENCHMARKS.md of the last run.
  const sections = (text) => text.split(/\n(?=## )/);
  const title = (sec) => /^## .*\((?:tests\/bench\/)?([\w-]+)\.mjs\)/.exec(sec)?.[1];
  const fresh = new Map(sections(md).map(s => [title(s), s]));
  const today = new Date().toISOString().slice(0, 10);
  const old = readFileSync(path.join(ROOT, 'BENCHMARKS.md'), 'utf8');
  const out = sections(old).map(sec => {
    const name = title(sec);
    if (!name || !only.includes(name)) return sec;
    if (!fresh.has(name)) throw new Error(`no figures for ${name}: run tests/bench/${name}.mjs first`);
    const [head, ...rest] = fresh.get(name).replace(/\n+$/, '').split('\n');
    return [head, '', `*This section: measured on ${today} by \`node tests/bench/${name}.mjs\` alone, then \`node tests/bench/report.mjs ${name}\`.*`, ...rest].join('\n') + '\n';
  });
  writeFileSync(path.join(ROOT, 'BENCHMARKS.md'), out.join('\n'));
  console.log(out.join('\n'));
} else {
  writeFileSync(path.join(ROOT, 'BENCHMARKS.md'), md);
  console.log(md);
}
