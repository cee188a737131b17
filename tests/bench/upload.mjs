// Upload benchmark, everything side by side in one headless Chromium against one Azurite:
//   A. finsync (the real app: fingerprints, sessions, PUTs, commits) at concurrency 4
//   B. a hand-written pool of 4 bare fetch PUTs to SAS URLs of the same kind (and B2, the same
//      pool with XMLHttpRequest, finsync's transport)
//   C. @azure/storage-blob uploadData, 4 files in flight
//   D. curl outside the browser: `curl --parallel --parallel-max 4 -T file` to SAS URLs of the
//      same kind (the URLs go through a 0600 config file, never a command line or a log)
// over N × 5 MiB JPEGs; then one big file: finsync's 8 MiB blocks vs the SDK's defaults; and
// the renderer's memory growth during finsync's runs. Prints one JSON object.
import { mkdirSync, writeFileSync, existsSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import os from 'node:os';
import { startStack, launchBrowser, ROOT } from '../e2e/support/env.mjs';
import { makeBigJpeg } from '../e2e/support/jpeg.mjs';

const N = Number(process.env.BENCH_FILES || 200);
const FILE_BYTES = 5 * 1024 * 1024;
const BIG_BYTES = Number(process.env.BENCH_BIG_BYTES || 1024 * 1024 * 1024);
const DATA = process.env.BENCH_DATA || path.join(os.tmpdir(), 'finsync-bench-data');
const MiB = 1024 * 1024;

function ensureData() {
  const many = path.join(DATA, `many-${N}`);
  if (!existsSync(path.join(many, `IMG_${N - 1}.jpg`))) {
    mkdirSync(many, { recursive: true });
    for (let i = 0; i < N; i++) writeFileSync(path.join(many, `IMG_${i}.jpg`), makeBigJpeg(FILE_BYTES, i + 1));
  }
  const big = path.join(DATA, `big-${BIG_BYTES}`);
  if (!existsSync(path.join(big, 'BIG.jpg'))) {
    mkdirSync(big, { recursive: true });
    writeFileSync(path.join(big, 'BIG.jpg'), makeBigJpeg(BIG_BYTES, 4242));
  }
  return { many, big };
}

async function api(stack, route, body) {
  const r = await fetch(`${stack.appUrl}${route}`, {
    method: 'POST', headers: { Authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`${route}: ${r.status} ${await r.text()}`);
  return r.json();
}

/** Fresh SAS URLs (new sessions) for `names` of `size` bytes in a throwaway encounter. */
async function sasUrls(stack, label, names, size) {
  const enc = await api(stack, '/api/v1/encounters/find-or-create', { date: '2000-01-01', locationName: label, photographer: 'bench' });
  const urls = [];
  for (let i = 0; i < names.length; i += 100) {
    const items = names.slice(i, i + 100).map((n, j) => ({
      idempotencyKey: 'v1-' + Buffer.from(`${label}-${i + j}`).toString('hex').padEnd(40, '0').slice(0, 40),
      fileName: n, size, contentType: 'image/jpeg' }));
    const s = await api(stack, '/api/v1/upload-sessions', { encounterId: enc.id, items });
    urls.push(...s.sessions.map(x => x.uploadUrl));
  }
  return urls;
}

/** Waits until the server's variants queue (thumbnails/previews made after commit) is empty,
 *  so the baselines that follow do not share the CPU with it; returns the seconds waited. */
async function variantsDrained(stack) {
  const t = Date.now();
  if (process.env.FINSYNC_VARIANT_WORKERS === '0') return 0; // experiments: no queue at all
  const db = path.join(stack.tmp, 'server.db');
  for (;;) {
    const open = execFileSync('sqlite3', ['-readonly', db,
      "SELECT COUNT(*) FROM jobs WHERE kind = 'variants' AND state IN ('queued', 'running')"], { encoding: 'utf8' }).trim();
    if (open === '0') return (Date.now() - t) / 1000;
    await new Promise(r => setTimeout(r, 100));
  }
}

function rendererRss(browserPid) {
  // Sum of VmRSS of this browser's renderer processes (kB → bytes).
  let total = 0;
  const out = execFileSync('ps', ['-e', '-o', 'pid=,ppid=,args='], { encoding: 'utf8' });
  for (const line of out.split('\n')) {
    const m = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line);
    if (!m || !m[3].includes('--type=renderer') || !m[3].includes('finsync-bench-profile')) continue;
    try {
      const st = readFileSync(`/proc/${m[1]}/status`, 'utf8');
      total += Number(/VmRSS:\s+(\d+)/.exec(st)[1]) * 1024;
    } catch { /* gone */ }
  }
  return total;
}

/** Where finsync's time went, from the page's resource timings (request kinds and times only,
 *  never a URL: upload URLs carry SAS signatures): seconds from the click to the first request
 *  (planning: fingerprints), to the first PUT and from the last PUT to the end; the time with
 *  fewer than 4 PUTs in flight while PUTs were running; each kind's count and p50 duration. */
async function timeline(page, clickAt) {
  const entries = await page.evaluate(() => performance.getEntriesByType('resource').map(e => {
    const u = new URL(e.name);
    const kind = u.pathname.endsWith('/upload-sessions/commit') ? 'commit'
      : u.pathname.endsWith('/upload-sessions') ? 'sessions'
      : u.pathname.includes('/find-or-create') ? 'findOrCreate'
      : u.pathname.startsWith('/api/') ? 'api' : u.searchParams.has('sig') ? 'put' : 'other';
    return { kind, start: e.startTime, end: e.responseEnd || (e.startTime + e.duration) };
  }));
  const rel = entries.filter(e => e.start >= clickAt).map(e => ({ ...e, start: (e.start - clickAt) / 1000, end: (e.end - clickAt) / 1000 }));
  const end = await page.evaluate(() => performance.now());
  const puts = rel.filter(e => e.kind === 'put');
  const p50 = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : null; };
  const kinds = {};
  for (const k of ['findOrCreate', 'sessions', 'commit', 'put', 'api']) {
    const xs = rel.filter(e => e.kind === k);
    if (xs.length) kinds[k] = { n: xs.length, p50: p50(xs.map(e => e.end - e.start)), max: Math.max(...xs.map(e => e.end - e.start)) };
  }
  // Seconds with fewer than 4 PUTs in flight between the first PUT's start and the last's end.
  const edges = puts.flatMap(e => [[e.start, 1], [e.end, -1]]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let inFlight = 0, last = edges.length ? edges[0][0] : 0, under4 = 0;
  for (const [t, d] of edges) { if (inFlight < 4) under4 += t - last; inFlight += d; last = t; }
  const first = rel.length ? Math.min(...rel.map(e => e.start)) : null;
  // From each PUT's end to the next PUT's start (the app's turnaround per PUT: persisting the
  // status, starting the next request), p50 in ms.
  const starts = puts.map(e => e.start).sort((a, b) => a - b);
  const gaps = puts.map(e => starts.find(t => t >= e.end)).map((t, i) => t === undefined ? null : (t - puts[i].end) * 1000).filter(g => g !== null);
  return {
    toFirstRequest: first,
    toFirstPut: puts.length ? Math.min(...puts.map(e => e.start)) : null,
    lastPutEnd: puts.length ? Math.max(...puts.map(e => e.end)) : null,
    total: (end - clickAt) / 1000,
    putsUnder4InFlight: under4,
    putTurnaroundP50Ms: p50(gaps),
    commits: rel.filter(e => e.kind === 'commit').map(e => [Number(e.start.toFixed(2)), Number(e.end.toFixed(2))]),
    sessions: rel.filter(e => e.kind === 'sessions').map(e => [Number(e.start.toFixed(2)), Number(e.end.toFixed(2))]),
    kinds,
  };
}

const SKIP_BIG = Symbol('skip the big file');
const { many, big } = ensureData();
const names = Array.from({ length: N }, (_, i) => `IMG_${i}.jpg`);
const stack = await startStack();
const { chromium } = await import('playwright-core');
const profile = path.join(os.tmpdir(), `finsync-bench-profile-${process.pid}`);
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium', headless: true,
  // The baselines (the Azure SDK bundle) are injected into the app's page, whose CSP would
  // refuse an inline script; finsync itself runs under its normal policy otherwise.
  bypassCSP: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', '--enable-precise-memory-info'],
});
const page = ctx.pages()[0] || await ctx.newPage();
let sampler;
const results = { files: N, fileMiB: FILE_BYTES / MiB, bigMiB: BIG_BYTES / MiB };
try {
  await page.goto(stack.appUrl);
  await page.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });
  await page.getByTestId('concurrency').selectOption('4');
  await page.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor();
  const sdk = execFileSync(path.join(ROOT, 'node_modules/.bin/esbuild'), [path.join(ROOT, 'tests/bench/sdk-entry.mjs'), '--bundle', '--format=iife', '--minify', '--log-level=error'], { encoding: 'utf8' });
  await page.addScriptTag({ content: sdk });
  await page.evaluate(() => {
    for (const id of ['bench-many', 'bench-big']) {
      const i = document.createElement('input'); i.type = 'file'; i.multiple = true; i.id = id; i.hidden = true; document.body.append(i);
    }
  });
  await page.setInputFiles('#bench-many', names.map(n => path.join(many, n)));
  await page.setInputFiles('#bench-big', path.join(big, 'BIG.jpg'));

  const memory = { baseline: rendererRss(), peak: 0, samples: [] };
  const samplingFrom = Date.now();
  sampler = setInterval(() => {
    const rss = rendererRss();
    memory.peak = Math.max(memory.peak, rss);
    memory.samples.push([(Date.now() - samplingFrom) / 1000, Math.max(0, rss - memory.baseline) / MiB]);
  }, 250);
  const marks = {};

  // The renderer main thread's busy time per client (CDP Performance metrics), to tell the
  // page's own work from waiting on the network.
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Performance.enable');
  const busy = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics
    .filter(m => ['TaskDuration', 'ScriptDuration', 'LayoutDuration', 'RecalcStyleDuration'].includes(m.name)).map(m => [m.name, m.value]));
  const busyDelta = (a, b) => Object.fromEntries(Object.keys(a).map(k => [k, Number((b[k] - a[k]).toFixed(2))]));
  results.mainThread = {};
  let busy0 = await busy();

  // A. finsync
  await page.evaluate(() => { performance.setResourceTimingBufferSize(20000); performance.clearResourceTimings(); });
  // BENCH_PROFILE=1: a CPU profile of the page during finsync's sync, top functions by self
  // time on stderr (where the main thread's time goes).
  if (process.env.BENCH_PROFILE) { await cdp.send('Profiler.enable'); await cdp.send('Profiler.start'); }
  let t0 = Date.now();
  await page.getByTestId('folder-input').setInputFiles(many);
  const clickAt = await page.evaluate(() => performance.now());
  await page.getByTestId('upload').click();
  await page.getByTestId('summary').waitFor({ timeout: 600000 });
  const summaryA = await page.getByTestId('summary').textContent();
  if (!summaryA.startsWith(`${N} uploaded`)) throw new Error(`finsync run: ${summaryA}`);
  results.finsyncSeconds = (Date.now() - t0) / 1000;
  results.finsyncTimeline = await timeline(page, clickAt);
  results.mainThread.finsync = busyDelta(busy0, await busy());
  if (process.env.BENCH_PROFILE) {
    const { profile } = await cdp.send('Profiler.stop');
    const self = new Map();
    const dt = profile.timeDeltas; const byId = new Map(profile.nodes.map(n => [n.id, n]));
    profile.samples.forEach((id, i) => { const n = byId.get(id); const f = n.callFrame;
      const k = `${f.functionName || '(anon)'} ${f.url.split('/').pop()}:${f.lineNumber}`; self.set(k, (self.get(k) || 0) + (dt[i] || 0) / 1000); });
    const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 40);
    for (const [k, ms] of top) console.error(`${ms.toFixed(0).padStart(7)} ms  ${k}`);
  }
  marks.manyEnd = (Date.now() - samplingFrom) / 1000;
  results.variantsAfterSeconds = await variantsDrained(stack);

  // B. bare fetch pool
  let urls = await sasUrls(stack, 'bench-pool', names, FILE_BYTES);
  results.poolSeconds = await page.evaluate(async (urls) => {
    const files = document.getElementById('bench-many').files;
    const t = performance.now(); let next = 0;
    const worker = async () => { while (next < files.length) { const i = next++;
      const r = await fetch(urls[i], { method: 'PUT', body: files[i], headers: { 'x-ms-blob-type': 'BlockBlob' } });
      if (r.status !== 201) throw new Error(`PUT ${r.status}`); } };
    await Promise.all([worker(), worker(), worker(), worker()]);
    return (performance.now() - t) / 1000;
  }, urls);

  // B2. the same pool with XMLHttpRequest (finsync's transport), to tell the transport's share
  // of the gap from the app's own work.
  urls = await sasUrls(stack, 'bench-xhr', names, FILE_BYTES);
  busy0 = await busy();
  results.xhrPoolSeconds = await page.evaluate(async (urls) => {
    const files = document.getElementById('bench-many').files;
    const put = (url, file) => new Promise((resolve, reject) => {
      const x = new XMLHttpRequest(); x.open('PUT', url); x.setRequestHeader('x-ms-blob-type', 'BlockBlob');
      x.onload = () => x.status === 201 ? resolve() : reject(new Error(`PUT ${x.status}`)); x.onerror = () => reject(new Error('PUT failed'));
      x.send(file);
    });
    const t = performance.now(); let next = 0;
    const worker = async () => { while (next < files.length) { const i = next++; await put(urls[i], files[i]); } };
    await Promise.all([worker(), worker(), worker(), worker()]);
    return (performance.now() - t) / 1000;
  }, urls);
  results.mainThread.xhrPool = busyDelta(busy0, await busy());

  // C. Azure SDK, 4 files in flight
  urls = await sasUrls(stack, 'bench-sdk', names, FILE_BYTES);
  results.sdkSeconds = await page.evaluate(async (urls) => {
    const files = [...document.getElementById('bench-many').files];
    const t = performance.now(); await window.sdkUploadFiles(urls, files, 4); return (performance.now() - t) / 1000;
  }, urls);

  // D. parallel curl, 4 transfers at a time, outside the browser. The SAS URLs go into a config
  // file readable only by us (never argv, which `ps` shows, nor any output); curl writes only
  // each response's status code.
  urls = await sasUrls(stack, 'bench-curl', names, FILE_BYTES);
  const curlDir = mkdtempSync(path.join(os.tmpdir(), 'finsync-bench-curl-'));
  try {
    const q = (v) => '"' + v.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
    const config = names.map((n, i) => `upload-file = ${q(path.join(many, n))}\nurl = ${q(urls[i])}\noutput = "/dev/null"\n`).join('');
    writeFileSync(path.join(curlDir, 'puts.conf'), config, { mode: 0o600 });
    const t = Date.now();
    const curl = spawnSync('curl', ['--parallel', '--parallel-max', '4', '--silent', '--show-error',
      '-H', 'x-ms-blob-type: BlockBlob', '-w', '%{http_code}\\n', '-K', path.join(curlDir, 'puts.conf')], { encoding: 'utf8' });
    results.curlSeconds = (Date.now() - t) / 1000;
    const codes = curl.stdout.split('\n').filter(Boolean);
    const created = codes.filter(c => c === '201').length;
    // stderr could quote a URL: report only the count of failures, never curl's own words.
    if (curl.status !== 0 || created !== N) throw new Error(`curl: exit ${curl.status}, ${created} of ${N} PUTs answered 201`);
  } finally {
    rmSync(curlDir, { recursive: true, force: true });
  }

  // One big file: finsync (8 MiB blocks, 4 in flight) vs SDK defaults. BENCH_SKIP_BIG=1 leaves
  // it out (quicker runs while working on the many-files case).
  if (process.env.BENCH_SKIP_BIG) throw SKIP_BIG;
  marks.bigStart = (Date.now() - samplingFrom) / 1000;
  t0 = Date.now();
  await page.getByTestId('folder-input').setInputFiles(big);
  await page.evaluate(() => performance.clearResourceTimings());
  const bigClickAt = await page.evaluate(() => performance.now());
  await page.getByTestId('upload').click();
  await page.getByTestId('summary').waitFor({ state: 'detached', timeout: 10000 }).catch(() => {});
  await page.getByTestId('summary').waitFor({ timeout: 600000 });
  const summaryBig = await page.getByTestId('summary').textContent();
  if (!summaryBig.startsWith('1 uploaded')) {
    const errors = await page.getByTestId('errors').textContent().catch(() => '');
    throw new Error(`finsync big-file run: ${summaryBig} ${errors}`);
  }
  results.finsyncBigSeconds = (Date.now() - t0) / 1000;
  results.finsyncBigTimeline = await timeline(page, bigClickAt);
  results.variantsAfterBigSeconds = await variantsDrained(stack);
  clearInterval(sampler);
  marks.bigEnd = (Date.now() - samplingFrom) / 1000;
  // Memory over time for the plot: the 200-file sync, then the big file (the baselines in between
  // run in the same renderer, so their part of the curve is left out).
  results.memorySamples = memory.samples.filter(([t]) => t <= marks.manyEnd || t >= marks.bigStart)
    .map(([t, m]) => [Number(t.toFixed(2)), Number(m.toFixed(1))]);
  results.memoryMarks = marks;
  results.rendererRssGrowthMiB = Math.max(0, memory.peak - memory.baseline) / MiB;
  const [bigUrl] = await sasUrls(stack, 'bench-sdk-big', ['BIG.jpg'], BIG_BYTES);
  results.sdkBigSeconds = await page.evaluate(async (url) => {
    const file = document.getElementById('bench-big').files[0];
    const t = performance.now(); await window.sdkUploadOne(url, file); return (performance.now() - t) / 1000;
  }, bigUrl);
} catch (e) {
  if (e !== SKIP_BIG) throw e;
} finally {
  clearInterval(sampler);
  await ctx.close();
  await stack.stop();
}
const mbps = (bytes, s) => bytes / MiB / s;
results.finsyncMiBps = mbps(N * FILE_BYTES, results.finsyncSeconds);
results.poolMiBps = mbps(N * FILE_BYTES, results.poolSeconds);
results.xhrPoolMiBps = mbps(N * FILE_BYTES, results.xhrPoolSeconds);
results.sdkMiBps = mbps(N * FILE_BYTES, results.sdkSeconds);
results.curlMiBps = mbps(N * FILE_BYTES, results.curlSeconds);
if (!process.env.BENCH_SKIP_BIG) results.finsyncBigMiBps = mbps(BIG_BYTES, results.finsyncBigSeconds);
if (!process.env.BENCH_SKIP_BIG) results.sdkBigMiBps = mbps(BIG_BYTES, results.sdkBigSeconds);
console.log(JSON.stringify(results));
