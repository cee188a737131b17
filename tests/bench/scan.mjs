// Scan benchmark, side by side in one headless Chromium page over the same files (the
// FileList of the Discover page's <input webkitdirectory>):
//   A. finsync's scan (the real app: walk, a 64 KiB prefix read per file in its two reader
//      workers, 12 files in flight — more only when the JPEG's segments say so —, EXIF/IPTC parse
//      in WASM, IndexedDB writes in batches of 200), from the job's own start/end times as stored in IndexedDB. Two figures: the
//      metadata pass (scan + metadata: the job is Done and usable for grouping and review — what
//      issue 5's goal compares), and the time until the job's fingerprint phase (first and last
//      64 KiB of every file, SHA-256, batched writes) has fingerprinted every image
//   B. exifr (npm, full build) the way its docs recommend: `exifr.parse(file, options)` with a
//      cached options object picking the tags finsync extracts, chunked Blob reading, 4 files
//      in flight
//   C. the I/O floor: `file.slice(0, 65536).arrayBuffer()`, 4 in flight
// over N generated camera-like JPEGs (EXIF with date, offset, GPS, artist, model; 100–300 KB
// each: the picture is followed by trailing data, as cameras append previews, so the
// fingerprint's tail is a read of its own like on real photos).
//
// Fairness: an untimed warm-up — every file's first and last 64 KiB read once from Node (the
// disk cache), then finsync, exifr and the floor each over N/4 other files in the page (their
// code warmed up) —, then BENCH_SCAN_ROUNDS rounds (3) in which each contender goes once over the
// N files, the order rotated by one each round; each contender's figure is its median round, and
// the rounds are printed (stderr, and in the JSON). Every finsync round is a first scan doing
// all the work: its folder is hard links to the same files under a name of its own (a folder
// picked again under its old name would be diffed against the earlier scan instead).
// Memory: the renderer's RSS growth while finsync scans and fingerprints the N/4 files (the
// warm-up) and the N files (median of the rounds) — flat means the same for both. Prints one
// JSON object (files/s per contender, the ratios, the rounds).
//
// BENCH_AB_PAGES=b/index.html,… (experiments): adds `finsync_b` …, the same scan in another tab
// loading another build of the app from the same server (its index.html and scan-reader.js in
// dist/b/, its hashed files copied beside the current ones in dist/), into the rotation.
//
// BENCH_SCAN_CPU_PROFILE=<file.cpuprofile>: records a CPU profile of the page's main thread
// during finsync's metadata pass over the N files in the first round (open it in Chromium's DevTools, Performance
// panel) and prints where the samples went, by function (self time), to stderr — e.g. whether the
// thread waits (`(idle)`) or works.
//
// BENCH_SCAN_CPU_SPLIT=1: prints to stderr the CPU time per file that each Chromium process and
// thread spent (from /proc, all of the browser's processes) during finsync's metadata pass and
// during exifr and the floor, every round, side by side — e.g. whether the page's main thread is busy (CPU) or mostly
// blocked in synchronous calls (its CPU much below the wall time), and what the browser process
// costs per file. The per-process figures include threads that ended meanwhile (the app's reader
// workers end with the scan: no thread of theirs is left to read), the thread list only the
// live ones; the gap is printed. Linux only.
import { mkdirSync, writeFileSync, existsSync, readFileSync, readdirSync, mkdtempSync, linkSync, rmSync, openSync, readSync, fstatSync, closeSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import os from 'node:os';
import { startStack, ROOT, CHROMIUM_ARGS } from '../e2e/support/env.mjs';
import { makeJpeg } from '../e2e/support/jpeg.mjs';

const N = Number(process.env.BENCH_SCAN_FILES || 10000);
const PER_FOLDER = 100;
const DATA = process.env.BENCH_DATA || path.join(os.tmpdir(), 'finsync-bench-data');
const MiB = 1024 * 1024;
const ARTISTS = ['Jane Smith', 'Bo Ek', 'Ann Lee', 'J. Ford', 'Kai Tan'];

function ensureData(n) {
  const root = path.join(DATA, `scan-${n}`, `Survey-${n}`);
  const last = path.join(root, `trip-${String(Math.floor((n - 1) / PER_FOLDER)).padStart(3, '0')}`, `IMG_${n - 1}.jpg`);
  if (existsSync(last)) return root;
  const noise = randomBytes(MiB);
  for (let i = 0; i < n; i++) {
    const t = Math.floor(i / PER_FOLDER);
    const dir = path.join(root, `trip-${String(t).padStart(3, '0')}`);
    if (i % PER_FOLDER === 0) mkdirSync(dir, { recursive: true });
    const day = 1 + (t % 28), mm = String(i % 60).padStart(2, '0');
    const jpg = makeJpeg({ width: 64, height: 48, seed: i + 1, exif: {
      date: `2024:07:${String(day).padStart(2, '0')} 10:${mm}:00`, offset: '-07:00',
      lat: 48 + (t % 10) / 10, lon: -123 - (i % 7) / 100, artist: ARTISTS[t % ARTISTS.length], model: 'Canon EOS R5' } });
    const size = 100_000 + (i * 7919 % 200_000);
    const at = (i * 104729) % (MiB - size);
    const unique = Buffer.from(`finsync-bench-${i}`.padEnd(32, '.'));
    writeFileSync(path.join(dir, `IMG_${i}.jpg`), Buffer.concat([jpg, noise.subarray(at, at + size - jpg.length - 32), unique]));
  }
  return root;
}

/** The pids of the profile's renderer processes. */
function rendererPids(profile) {
  const pids = [];
  const out = execFileSync('ps', ['-e', '-o', 'pid=,args='], { encoding: 'utf8' });
  for (const line of out.split('\n')) {
    const m = /^\s*(\d+)\s+(.*)$/.exec(line);
    if (m && m[2].includes('--type=renderer') && m[2].includes(profile)) pids.push(m[1]);
  }
  return pids;
}

/** The VmRSS of those processes together (read from /proc only: cheap enough to sample while a
 * contender is timed). */
function rssOf(pids) {
  let total = 0;
  for (const pid of pids) {
    try { total += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024; } catch { /* gone */ }
  }
  return total;
}

const rendererRss = profile => rssOf(rendererPids(profile));

/** CPU ticks so far of every thread of every Chromium process, by `<process type>:<thread>`
 * (`MAIN` for a process's main thread; a thread name's trailing digits dropped, so a pool's
 * threads add up), and of every process by type (`procs`: its own figure, which keeps the CPU
 * of threads that have exited — such as the app's reader workers, ended with the scan). */
function cpuTicks() {
  const ticks = new Map();
  const procs = new Map();
  const ps = execFileSync('ps', ['-e', '-o', 'pid=,args='], { encoding: 'utf8' });
  for (const line of ps.split('\n')) {
    const m = /^\s*(\d+)\s+(\S+)(.*)$/.exec(line);
    if (!m || !/chrom/.test(path.basename(m[2]))) continue;
    const type = (/--type=(\S+)/.exec(m[3]) || [, 'browser'])[1];
    let tasks = [];
    try {
      tasks = readdirSync(`/proc/${m[1]}/task`);
      const stat = readFileSync(`/proc/${m[1]}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procs.set(type, (procs.get(type) || 0) + Number(f[11]) + Number(f[12]));
    } catch { continue; }
    for (const t of tasks) {
      try {
        const stat = readFileSync(`/proc/${m[1]}/task/${t}/stat`, 'utf8');
        const name = t === m[1] ? 'MAIN' : /\((.*)\)/.exec(stat)[1].replace(/\d+$/, '');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const key = `${type}:${name}`;
        ticks.set(key, (ticks.get(key) || 0) + Number(f[11]) + Number(f[12]));
      } catch { /* gone */ }
    }
  }
  ticks.procs = procs;
  return ticks;
}

/** `what`'s CPU µs per file between two cpuTicks(), by process (threads that exited meanwhile
 * included) and by its busiest threads (live ones only; what exited is given apart), to stderr. */
function printCpuSplit(what, before, after, files, wallSeconds) {
  const tick = 1e6 / 100; // USER_HZ
  const rows = [...after].map(([k, v]) => [k, (v - (before.get(k) || 0)) * tick / files]).filter(([, us]) => us > 0)
    .sort((a, b) => b[1] - a[1]);
  const byProcess = [...after.procs].map(([p, v]) => [p, (v - (before.procs.get(p) || 0)) * tick / files])
    .filter(([, us]) => us > 0).sort((a, b) => b[1] - a[1]);
  const total = byProcess.reduce((s, [, us]) => s + us, 0);
  const exited = total - rows.reduce((s, [, us]) => s + us, 0);
  console.error(`CPU per file, ${what} (wall ${(wallSeconds * 1e6 / files).toFixed(0)} µs/file): ${total.toFixed(0)} µs — `
    + byProcess.map(([p, us]) => `${p} ${us.toFixed(0)}`).join(', '));
  console.error('  ' + rows.slice(0, 10).map(([k, us]) => `${k} ${us.toFixed(0)}`).join(', ')
    + (exited >= 1 ? `; threads that exited meanwhile (e.g. finsync's reader workers) ${exited.toFixed(0)}` : ''));
}
const CPU_SPLIT = !!process.env.BENCH_SCAN_CPU_SPLIT;

/** The newest scan job as stored in IndexedDB. */
const newestJob = page => page.evaluate(() => new Promise((resolve, reject) => {
  const open = indexedDB.open('finsync');
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const req = open.result.transaction('scanJobs').objectStore('scanJobs').getAll();
    req.onsuccess = () => { resolve(req.result.sort((a, b) => b.startedMs - a.startedMs)[0]); open.result.close(); };
    req.onerror = () => reject(req.error);
  };
}));

/** Scans `dir` in the app and waits for its fingerprints; returns both times (from the job's own
 * timestamps) and the renderer's RSS growth over both phases. */
async function appScan(page, dir, profile, expected, cpuProfile) {
  await page.bringToFront();
  const cdp = cpuProfile ? await page.context().newCDPSession(page) : null;
  if (cdp) {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
    await cdp.send('Profiler.start');
  }
  const before = await page.evaluate(() => document.querySelectorAll('[data-testid=scan-job]').length);
  // The baseline after a full garbage collection, as the figure kept after the scan is, so
  // what an earlier contender left for the collector does not count.
  await page.evaluate(() => window.gc && window.gc());
  await new Promise(r => setTimeout(r, 500));
  const pids = rendererPids(profile);
  const baseline = rssOf(pids);
  let peak = baseline;
  const sampler = setInterval(() => { peak = Math.max(peak, rssOf(pids)); }, 200);
  const ticks0 = CPU_SPLIT ? cpuTicks() : null;
  await page.getByTestId('scan-folder-input').setInputFiles(dir);
  await page.waitForFunction(n => document.querySelectorAll('[data-testid=scan-job]').length > n
    && document.querySelector('[data-testid=scan-job] [data-testid=scan-job-state]')?.textContent === 'Done', before, { timeout: 1_800_000, polling: 250 });
  const ticks1 = CPU_SPLIT ? cpuTicks() : null;
  if (cdp) {
    const { profile: cpu } = await cdp.send('Profiler.stop');
    writeFileSync(cpuProfile, JSON.stringify(cpu));
    summariseProfile(cpu);
    await cdp.detach();
  }
  let job = await newestJob(page);
  for (const t0 = Date.now(); !job.fingerprintsEndedMs; job = await newestJob(page)) {
    if (Date.now() - t0 > 1_800_000) throw new Error(`fingerprints never completed: ${JSON.stringify(job.counts)}`);
    await new Promise(r => setTimeout(r, 250));
  }
  clearInterval(sampler);
  const c = job.counts;
  if (c.filesSeen !== expected || c.images !== expected || c.fingerprinted !== expected) throw new Error(`app scan: ${JSON.stringify(c)}`);
  const seconds = (job.endedMs - job.startedMs) / 1000;
  if (CPU_SPLIT) printCpuSplit(`finsync's metadata pass over ${expected} files`, ticks0, ticks1, expected, seconds);
  const fingerprintedSeconds = (job.fingerprintsEndedMs - job.startedMs) / 1000;
  // What stays after a full garbage collection (peak also counts garbage not yet collected).
  await page.evaluate(() => window.gc && window.gc());
  await new Promise(r => setTimeout(r, 500));
  const retained = rssOf(pids);
  // The app's WASM heap (linear memory never shrinks: its size is the high-water mark).
  const wasmHeap = await page.evaluate(() => window.__finsyncWasm?.memory?.buffer.byteLength ?? 0);
  return {
    wasmHeapMiB: wasmHeap / MiB,
    seconds, filesPerSec: expected / seconds,
    fingerprintedSeconds, fingerprintedFilesPerSec: expected / fingerprintedSeconds,
    rssGrowthMiB: Math.max(0, peak - baseline) / MiB, retainedMiB: (retained - baseline) / MiB,
  };
}

/** Self time by function of a V8 CPU profile, to stderr: the top entries and the idle share. */
function summariseProfile(cpu) {
  const byId = new Map(cpu.nodes.map(n => [n.id, n]));
  const self = new Map();
  const dt = cpu.timeDeltas;
  for (let i = 0; i < cpu.samples.length; i++) {
    const n = byId.get(cpu.samples[i]);
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url ? f.url.split('/').pop() + ':' + f.lineNumber : ''}`.trim();
    self.set(key, (self.get(key) || 0) + (dt[i + 1] ?? 0) / 1000);
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25);
  console.error(`CPU profile of the main thread over ${(total / 1000).toFixed(2)} s (self time):`);
  for (const [k, ms] of top) console.error(`  ${(ms / total * 100).toFixed(1).padStart(5)} %  ${ms.toFixed(0).padStart(6)} ms  ${k}`);
}

const ROUNDS = Number(process.env.BENCH_SCAN_ROUNDS || 3);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const small = ensureData(N / 4);
const big = ensureData(N);
// BENCH_SCAN_DATA_ONLY=1: only make the inputs (e.g. without holding the benchmark lock).
if (process.env.BENCH_SCAN_DATA_ONLY) process.exit(0);

// finsync's folder for each round: hard links to the same files under a folder of another
// name. A folder picked again under its old name is a re-scan: the app diffs it against the
// earlier scan (reading that scan's rows first) and moves its manifests over — not the work of
// a first scan. Under a new name every round is a first scan doing all the work.
const links = mkdtempSync(path.join(DATA, 'scan-rounds-'));
// Removed however the run ends (the links only: the files stay).
process.on('exit', () => rmSync(links, { recursive: true, force: true }));
function linkedFolder(from, name) {
  const to = path.join(links, name);
  for (const d of readdirSync(from)) {
    mkdirSync(path.join(to, d), { recursive: true });
    for (const f of readdirSync(path.join(from, d))) linkSync(path.join(from, d, f), path.join(to, d, f));
  }
  return to;
}
// Untimed warm-up of the disk cache: every file's first and last 64 KiB read once (what the
// contenders read: prefixes; the fingerprint phase: the tails too), so no contender pays for a
// cold cache that an earlier one warmed.
function warmUp(root) {
  const buf = Buffer.alloc(65536);
  for (const d of readdirSync(root)) for (const f of readdirSync(path.join(root, d))) {
    const fd = openSync(path.join(root, d, f), 'r');
    try {
      const size = fstatSync(fd).size;
      readSync(fd, buf, 0, 65536, 0);
      if (size > 65536) readSync(fd, buf, 0, 65536, Math.max(65536, size - 65536));
    } finally { closeSync(fd); }
  }
}
warmUp(small);
warmUp(big);

const stack = await startStack();
const { chromium } = await import('playwright-core');
const profile = path.join(os.tmpdir(), `finsync-bench-scan-profile-${process.pid}`);
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium', headless: true,
  args: [...CHROMIUM_ARGS, '--enable-precise-memory-info', '--js-flags=--expose-gc'],
  // The bundle is served with its CSP (no inline script); the benchmark injects exifr inline.
  bypassCSP: true,
});
// trunk's loader hands the instantiated module to this event; its memory is the WASM heap.
await ctx.addInitScript(() => addEventListener('TrunkApplicationStarted', e => { window.__finsyncWasm = e.detail.wasm; }));
const page = ctx.pages()[0] || await ctx.newPage();
const results = { files: N, smallFiles: N / 4, avgFileKB: 0, rounds: ROUNDS, loadAverageAtStart: os.loadavg()[0] };
try {
  await page.goto(`${stack.appUrl}/#/discover`);
  await page.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });
  // A/B experiments: BENCH_AB_PAGES (see the top).
  const others = {};
  for (const p of (process.env.BENCH_AB_PAGES || '').split(',').filter(Boolean)) {
    const pg = await ctx.newPage();
    await pg.goto(`${stack.appUrl}/${p}#/discover`);
    await pg.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });
    others[p.split('/')[0]] = pg;
  }
  const exifrBundle = execFileSync(path.join(ROOT, 'node_modules/.bin/esbuild'),
    ['--bundle', '--format=iife', '--minify', '--log-level=error', '--sourcefile=exifr-entry.mjs'],
    { encoding: 'utf8', cwd: ROOT, input: "import * as exifr from 'exifr/dist/full.esm.mjs'; window.exifr = exifr;" });
  await page.addScriptTag({ content: exifrBundle });

  // exifr and the floor each get the folder chosen afresh every time (new File objects: the
  // first access to a File's size stats the file, and a contender must not profit from an
  // earlier one's); the input is removed after, so its list is not kept.
  const inPage = async (what, dir, n) => {
    await page.bringToFront();
    await page.evaluate(() => {
      const i = document.createElement('input');
      i.type = 'file'; i.id = 'bench-pick'; i.hidden = true; i.setAttribute('webkitdirectory', '');
      document.body.append(i);
    });
    await page.setInputFiles('#bench-pick', dir);
    const ticks0 = CPU_SPLIT ? cpuTicks() : null;
    const r = await page.evaluate(async (what) => {
      const input = document.getElementById('bench-pick');
      const files = [...input.files];
      input.remove();
      let next = 0, withDate = 0, bytes = 0;
      const options = {
        tiff: true, xmp: false, icc: false, jfif: false, ihdr: false, interop: false, iptc: true, gps: true,
        ifd0: ['Make', 'Model', 'Artist', 'Copyright', 'ImageWidth', 'ImageHeight'],
        exif: ['DateTimeOriginal', 'DateTimeDigitized', 'OffsetTimeOriginal', 'LensModel', 'FocalLength', 'CameraOwnerName'],
      };
      const work = what === 'exifr'
        ? async f => { const m = await window.exifr.parse(f, options); if (m?.DateTimeOriginal) withDate++; }
        : async f => { bytes += (await f.slice(0, 65536).arrayBuffer()).byteLength; };
      const t = performance.now();
      const worker = async () => { while (next < files.length) { const f = files[next++]; await work(f); } };
      await Promise.all([worker(), worker(), worker(), worker()]);
      const seconds = (performance.now() - t) / 1000;
      const total = files.reduce((s, f) => s + f.size, 0);
      return { n: files.length, seconds, withDate, bytes, avgFileKB: total / files.length / 1000 };
    }, what);
    if (r.n !== n || (what === 'exifr' ? r.withDate !== n : r.bytes < n)) throw new Error(`${what} run: ${JSON.stringify(r)}`);
    if (CPU_SPLIT) printCpuSplit(`${what} over ${r.n} files`, ticks0, cpuTicks(), r.n, r.seconds);
    return r;
  };

  // Warm-up and memory: finsync scans N/4 files first (its code and the page's IndexedDB warmed
  // up; the RSS growth to compare with N files'), exifr and the floor read the same N/4 files
  // once, untimed.
  const a1 = await appScan(page, small, profile, N / 4);
  await inPage('exifr', small, N / 4);
  await inPage('floor', small, N / 4);
  for (const [k, pg] of Object.entries(others)) await appScan(pg, linkedFolder(small, `Survey-${k}-warm-up`), profile, N / 4);

  // The rounds: every contender once per round over the same N files, the order rotated by one
  // each round (each contender takes every place in turn: first, after finsync's fingerprint
  // phase, after exifr …); each contender's figure is its median round.
  const runs = { finsync: [], exifr: [], floor: [], ...Object.fromEntries(Object.keys(others).map(k => [`finsync_${k}`, []])) };
  const contenders = {
    finsync: r => appScan(page, linkedFolder(big, `Survey-${N}-round-${r + 1}`), profile, N,
      r === 0 ? process.env.BENCH_SCAN_CPU_PROFILE : undefined),
    ...Object.fromEntries(Object.entries(others).map(([k, pg]) => [`finsync_${k}`, r => appScan(pg, linkedFolder(big, `Survey-${N}-${k}-${r + 1}`), profile, N)])),
    exifr: () => inPage('exifr', big, N),
    floor: () => inPage('floor', big, N),
  };
  const names = Object.keys(contenders);
  for (let r = 0; r < ROUNDS; r++) {
    const order = names.map((_, i) => names[(i + r) % names.length]);
    for (const k of order) {
      const x = await contenders[k](r);
      runs[k].push(x);
      console.error(`round ${r + 1}: ${k} ${x.seconds.toFixed(2)} s${x.fingerprintedSeconds ? ` (every fingerprint stored at ${x.fingerprintedSeconds.toFixed(2)} s)` : ''}`);
    }
  }
  const med = (k, f) => median(runs[k].map(f));
  results.roundSeconds = Object.fromEntries(names.map(k => [k, runs[k].map(x => x.seconds)]));
  results.roundFingerprintedSeconds = runs.finsync.map(x => x.fingerprintedSeconds);
  // finsync ÷ floor within each round (the same minutes of the machine).
  results.roundVsFloor = runs.finsync.map((x, i) => runs.floor[i].seconds / x.seconds);
  const finsyncSeconds = med('finsync', x => x.seconds);
  const fingerprintedSeconds = med('finsync', x => x.fingerprintedSeconds);
  Object.assign(results, {
    avgFileKB: runs.floor[0].avgFileKB,
    finsyncSeconds, finsyncFilesPerSec: N / finsyncSeconds, finsyncSmallFilesPerSec: a1.filesPerSec,
    finsyncFingerprintedSeconds: fingerprintedSeconds, finsyncFingerprintedFilesPerSec: N / fingerprintedSeconds,
    rssGrowthSmallMiB: a1.rssGrowthMiB, rssGrowthMiB: med('finsync', x => x.rssGrowthMiB),
    wasmHeapSmallMiB: a1.wasmHeapMiB, wasmHeapMiB: runs.finsync[0].wasmHeapMiB, roundWasmHeapMiB: runs.finsync.map(x => x.wasmHeapMiB),
    retainedSmallMiB: a1.retainedMiB, retainedMiB: med('finsync', x => x.retainedMiB),
    roundRssGrowthMiB: runs.finsync.map(x => x.rssGrowthMiB), roundRetainedMiB: runs.finsync.map(x => x.retainedMiB),
    exifrSeconds: med('exifr', x => x.seconds), floorSeconds: med('floor', x => x.seconds),
  });
  results.exifrFilesPerSec = N / results.exifrSeconds;
  results.floorFilesPerSec = N / results.floorSeconds;
  for (const k of Object.keys(others)) {
    results[`finsync_${k}_seconds`] = med(`finsync_${k}`, x => x.seconds);
    results[`finsync_${k}_fingerprintedSeconds`] = med(`finsync_${k}`, x => x.fingerprintedSeconds);
  }
  // What the browser alone keeps for a picked folder: the N File objects of one more
  // <input webkitdirectory>, each stat'ed once (as any reader must), after a full GC — to
  // compare with what stays after finsync's scan of N files.
  const gcRss = async () => { await page.evaluate(() => window.gc && window.gc()); await new Promise(r => setTimeout(r, 500)); return rendererRss(profile); };
  await page.bringToFront();
  const held0 = await gcRss();
  await page.evaluate(() => { const i = document.createElement('input'); i.type = 'file'; i.id = 'bench-hold'; i.hidden = true; i.setAttribute('webkitdirectory', ''); document.body.append(i); });
  await page.setInputFiles('#bench-hold', big);
  await page.evaluate(() => { let s = 0; for (const f of document.getElementById('bench-hold').files) s += f.size; return s; });
  results.fileListRetainedMiB = (await gcRss() - held0) / MiB;
  results.vsExifr = results.finsyncFilesPerSec / results.exifrFilesPerSec;
  results.vsFloor = results.finsyncFilesPerSec / results.floorFilesPerSec;
  results.fingerprintedVsExifr = results.finsyncFingerprintedFilesPerSec / results.exifrFilesPerSec;
  results.fingerprintedVsFloor = results.finsyncFingerprintedFilesPerSec / results.floorFilesPerSec;
} finally {
  await ctx.close();
  await stack.stop();
  rmSync(links, { recursive: true, force: true });
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(results, null, 2));
