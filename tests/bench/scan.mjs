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
// fingerprint's tail is a read of its own like on real photos). Memory: the renderer's RSS
// growth while finsync scans and fingerprints N/4 files and then N files — flat means the same
// for both. Prints one JSON object (files/s per contender and the ratios).
//
// BENCH_SCAN_CPU_PROFILE=<file.cpuprofile>: records a CPU profile of the page's main thread
// during finsync's metadata pass over the N files (open it in Chromium's DevTools, Performance
// panel) and prints where the samples went, by function (self time), to stderr — e.g. whether the
// thread waits (`(idle)`) or works.
//
// BENCH_SCAN_CPU_SPLIT=1: prints to stderr the CPU time per file that each Chromium process and
// thread spent (from /proc, all of the browser's processes) during finsync's metadata pass and
// during the floor, side by side — e.g. whether the page's main thread is busy (CPU) or mostly
// blocked in synchronous calls (its CPU much below the wall time), and what the browser process
// costs per file. Linux only.
import { mkdirSync, writeFileSync, existsSync, readFileSync, readdirSync } from 'node:fs';
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

function rendererRss(profile) {
  let total = 0;
  const out = execFileSync('ps', ['-e', '-o', 'pid=,args='], { encoding: 'utf8' });
  for (const line of out.split('\n')) {
    const m = /^\s*(\d+)\s+(.*)$/.exec(line);
    if (!m || !m[2].includes('--type=renderer') || !m[2].includes(profile)) continue;
    try { total += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${m[1]}/status`, 'utf8'))[1]) * 1024; } catch { /* gone */ }
  }
  return total;
}

/** CPU ticks so far of every thread of every Chromium process, by `<process type>:<thread>`
 * (`MAIN` for a process's main thread; a thread name's trailing digits dropped, so a pool's
 * threads add up). */
function cpuTicks() {
  const ticks = new Map();
  const ps = execFileSync('ps', ['-e', '-o', 'pid=,args='], { encoding: 'utf8' });
  for (const line of ps.split('\n')) {
    const m = /^\s*(\d+)\s+(\S+)(.*)$/.exec(line);
    if (!m || !/chrom/.test(path.basename(m[2]))) continue;
    const type = (/--type=(\S+)/.exec(m[3]) || [, 'browser'])[1];
    let tasks = [];
    try { tasks = readdirSync(`/proc/${m[1]}/task`); } catch { continue; }
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
  return ticks;
}

/** `what`'s CPU µs per file between two cpuTicks(), by process and by its busiest threads, to stderr. */
function printCpuSplit(what, before, after, files, wallSeconds) {
  const tick = 1e6 / 100; // USER_HZ
  const rows = [...after].map(([k, v]) => [k, (v - (before.get(k) || 0)) * tick / files]).filter(([, us]) => us > 0)
    .sort((a, b) => b[1] - a[1]);
  const byProcess = new Map();
  for (const [k, us] of rows) byProcess.set(k.split(':')[0], (byProcess.get(k.split(':')[0]) || 0) + us);
  const total = rows.reduce((s, [, us]) => s + us, 0);
  console.error(`CPU per file, ${what} (wall ${(wallSeconds * 1e6 / files).toFixed(0)} µs/file): ${total.toFixed(0)} µs — `
    + [...byProcess].map(([p, us]) => `${p} ${us.toFixed(0)}`).join(', '));
  console.error('  ' + rows.slice(0, 10).map(([k, us]) => `${k} ${us.toFixed(0)}`).join(', '));
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
  const cdp = cpuProfile ? await page.context().newCDPSession(page) : null;
  if (cdp) {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
    await cdp.send('Profiler.start');
  }
  const before = await page.evaluate(() => document.querySelectorAll('[data-testid=scan-job]').length);
  const baseline = rendererRss(profile);
  let peak = baseline;
  const sampler = setInterval(() => { peak = Math.max(peak, rendererRss(profile)); }, 200);
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
  const retained = rendererRss(profile);
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

const small = ensureData(N / 4);
const big = ensureData(N);
const stack = await startStack();
const { chromium } = await import('playwright-core');
const profile = path.join(os.tmpdir(), `finsync-bench-scan-profile-${process.pid}`);
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium', headless: true,
  args: [...CHROMIUM_ARGS, '--enable-precise-memory-info', '--js-flags=--expose-gc'],
  // The bundle is served with its CSP (no inline script); the benchmark injects exifr inline.
  bypassCSP: true,
});
const page = ctx.pages()[0] || await ctx.newPage();
// trunk's loader hands the instantiated module to this event; its memory is the WASM heap.
await page.addInitScript(() => addEventListener('TrunkApplicationStarted', e => { window.__finsyncWasm = e.detail.wasm; }));
const results = { files: N, smallFiles: N / 4, avgFileKB: 0 };
try {
  await page.goto(`${stack.appUrl}/#/discover`);
  await page.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });
  const exifrBundle = execFileSync(path.join(ROOT, 'node_modules/.bin/esbuild'),
    ['--bundle', '--format=iife', '--minify', '--log-level=error', '--sourcefile=exifr-entry.mjs'],
    { encoding: 'utf8', cwd: ROOT, input: "import * as exifr from 'exifr/dist/full.esm.mjs'; window.exifr = exifr;" });
  await page.addScriptTag({ content: exifrBundle });

  // A. finsync: N/4 files, then N files (memory must not grow with N).
  const a1 = await appScan(page, small, profile, N / 4);
  const a2 = await appScan(page, big, profile, N, process.env.BENCH_SCAN_CPU_PROFILE);
  Object.assign(results, {
    finsyncSeconds: a2.seconds, finsyncFilesPerSec: a2.filesPerSec, finsyncSmallFilesPerSec: a1.filesPerSec,
    finsyncFingerprintedSeconds: a2.fingerprintedSeconds, finsyncFingerprintedFilesPerSec: a2.fingerprintedFilesPerSec,
    rssGrowthSmallMiB: a1.rssGrowthMiB, rssGrowthMiB: a2.rssGrowthMiB,
    wasmHeapSmallMiB: a1.wasmHeapMiB, wasmHeapMiB: a2.wasmHeapMiB,
    retainedSmallMiB: a1.retainedMiB, retainedMiB: a2.retainedMiB,
  });

  // B and C each get the folder chosen afresh (new File objects: the first access to a File's
  // size stats the file, and a contender must not profit from an earlier one's).
  await page.evaluate(() => {
    for (const id of ['bench-exifr', 'bench-floor']) {
      const i = document.createElement('input');
      i.type = 'file'; i.id = id; i.hidden = true; i.setAttribute('webkitdirectory', '');
      document.body.append(i);
    }
  });
  await page.setInputFiles('#bench-exifr', big);
  await page.setInputFiles('#bench-floor', big);
  const inPage = await page.evaluate(async () => {
    const list = id => [...document.getElementById(id).files];
    const pool = async (files, work) => {
      let next = 0;
      const t = performance.now();
      const worker = async () => { while (next < files.length) { const f = files[next++]; await work(f); } };
      await Promise.all([worker(), worker(), worker(), worker()]);
      return (performance.now() - t) / 1000;
    };
    const options = {
      tiff: true, xmp: false, icc: false, jfif: false, ihdr: false, interop: false, iptc: true, gps: true,
      ifd0: ['Make', 'Model', 'Artist', 'Copyright', 'ImageWidth', 'ImageHeight'],
      exif: ['DateTimeOriginal', 'DateTimeDigitized', 'OffsetTimeOriginal', 'LensModel', 'FocalLength', 'CameraOwnerName'],
    };
    let withDate = 0;
    const exifrFiles = list('bench-exifr');
    const exifrSeconds = await pool(exifrFiles, async f => { const m = await window.exifr.parse(f, options); if (m?.DateTimeOriginal) withDate++; });
    return { exifrSeconds, withDate };
  });
  const floorTicks0 = CPU_SPLIT ? cpuTicks() : null;
  Object.assign(inPage, await page.evaluate(async () => {
    const pool = async (files, work) => {
      let next = 0;
      const t = performance.now();
      const worker = async () => { while (next < files.length) { const f = files[next++]; await work(f); } };
      await Promise.all([worker(), worker(), worker(), worker()]);
      return (performance.now() - t) / 1000;
    };
    let bytes = 0;
    const files = [...document.getElementById('bench-floor').files];
    const floorSeconds = await pool(files, async f => { bytes += (await f.slice(0, 65536).arrayBuffer()).byteLength; });
    const total = files.reduce((s, f) => s + f.size, 0);
    return { n: files.length, floorSeconds, bytes, avgFileKB: total / files.length / 1000 };
  }));
  if (CPU_SPLIT) printCpuSplit(`the floor over ${N} files`, floorTicks0, cpuTicks(), N, inPage.floorSeconds);
  if (inPage.n !== N || inPage.withDate !== N) throw new Error(`exifr run: ${JSON.stringify(inPage)}`);
  Object.assign(results, {
    avgFileKB: inPage.avgFileKB,
    exifrSeconds: inPage.exifrSeconds, exifrFilesPerSec: N / inPage.exifrSeconds,
    floorSeconds: inPage.floorSeconds, floorFilesPerSec: N / inPage.floorSeconds,
  });
  // What the browser alone keeps for a picked folder: the N File objects of one more
  // <input webkitdirectory>, each stat'ed once (as any reader must), after a full GC — to
  // compare with what stays after finsync's scan of N files.
  const gcRss = async () => { await page.evaluate(() => window.gc && window.gc()); await new Promise(r => setTimeout(r, 500)); return rendererRss(profile); };
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
}
console.log(JSON.stringify(results, null, 2));
