// Upload benchmark, everything side by side in one headless Chromium, each timed run against an
// Azurite of its own in the same (empty) state:
//   A. finsync (the real app: fingerprints, sessions, PUTs, commits) at concurrency 4
//   B. a hand-written pool of 4 bare fetch PUTs to SAS URLs of the same kind (and B2, the same
//      pool with XMLHttpRequest, finsync's transport)
//   C. @azure/storage-blob uploadData, 4 files in flight
//   D. curl outside the browser: `curl --parallel --parallel-max 4 -T file` to SAS URLs of the
//      same kind (the URLs go through a 0600 config file, never a command line or a log)
// over N × 5 MiB JPEGs; then one big file: finsync's 8 MiB blocks vs the SDK's defaults; and
// the renderer's memory growth during finsync's runs. Prints one JSON object.
//
// Fairness: every timed client-round (each client's turn in each round, the many files' and the
// big file's) gets a new stack: Azurite with an empty --location and the server with an empty
// database, on new ports (startStack). One Azurite for the whole run made each client slower
// round after round (Azurite's CPU per 200-file round grew from 4.9 to 9.3 s for finsync): its
// LokiJS metadata database answers each lookup by scanning every blob or block stored before
// (the first indexed field of its queries, the account, is the same in all of them) and saves
// itself whole every 5 s, so a client's time depended on how much the clients before it had
// uploaded. The page then loads the new stack's app (a new origin, so a new, empty IndexedDB:
// the app starts as on a first visit with the server's demo key; concurrency is set to 4 again),
// and an untimed warm-up sends 20 files by the bare XHR pool to the new Azurite (its JIT, the
// server, the page's connections); finsync's folder is picked after that. The clients run in
// BENCH_ROUNDS rounds (3) whose order is rotated, so no client is always next after another
// (the page cache, the last stack's files being deleted); each client's figure is its median
// round. The big file's clients (finsync, the SDK, and bare XHR Put Block pools with and
// without Content-MD5) take turns, rotated each round, for BENCH_BIG_ROUNDS rounds (2) each.
// Every client is timed in the page with performance.now(): the baselines around their promise,
// finsync from the Upload click (a capturing click listener) to the summary's appearance (a
// MutationObserver) — still the whole sync as a person runs it. finsync gets a folder of its
// own each round (hard links to the same files under another folder name: the quick upload's
// encounter is the folder's name, so each round has new idempotency keys and
// uploads everything again). Each client's CPU seconds (Azurite, the server, the browser's
// renderer, network service and other processes) are measured around its timed part too
// (`cpu`): on this 2-core machine Azurite and the page share the CPU, so what a client costs
// the machine decides its time as much as its requests do.
//
// Experiments: BENCH_CLIENTS=finsync,xhrPool,… runs only those clients (round-robin order)
// and prints their rounds, main-thread time and CPU; `xhrProgress` (the XHR pool with an
// upload progress listener, as finsync registers) runs only when named there.
// BENCH_AB_BASE=other.html adds `finsyncBase`: the same sync in a second tab that loads
// another build of the app (its index page copied into dist/ under that name, its hashed
// files beside the current ones; a stack of its own per round like every client), for a
// side-by-side comparison of two builds in one run.
// BENCH_PROFILE_OUT=file.json keeps BENCH_PROFILE's raw CPU profile.
import { mkdirSync, writeFileSync, existsSync, readFileSync, mkdtempSync, rmSync, linkSync, readdirSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import os from 'node:os';
import { startStack, ROOT } from '../e2e/support/env.mjs';
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

/** Whether a process's command line is one of this run's browser's (its own profile folder):
 *  other benchmarks running at the same time have profiles named the same way, with their pid. */
const ofThisBrowser = (args) => args.split(' ').includes(`--user-data-dir=${profile}`);

function rendererRss() {
  // Sum of VmRSS of this browser's renderer processes (kB → bytes).
  let total = 0;
  const out = execFileSync('ps', ['-e', '-o', 'pid=,ppid=,args='], { encoding: 'utf8' });
  for (const line of out.split('\n')) {
    const m = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line);
    if (!m || !m[3].includes('--type=renderer') || !ofThisBrowser(m[3])) continue;
    try {
      const st = readFileSync(`/proc/${m[1]}/status`, 'utf8');
      total += Number(/VmRSS:\s+(\d+)/.exec(st)[1]) * 1024;
    } catch { /* gone */ }
  }
  return total;
}

/** CPU seconds (user + system) used so far by the processes whose command line contains
 *  each marker: Azurite and the server (their temporary folder) and this browser (its
 *  profile folder), to tell each client's cost to the machine from its wall time. */
function cpuSeconds(markers) {
  const hz = 100;
  const out = Object.fromEntries(Object.keys(markers).map(k => [k, 0]));
  for (const line of execFileSync('ps', ['-e', '-o', 'pid=,args='], { encoding: 'utf8' }).split('\n')) {
    const m = /^\s*(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const k = Object.keys(markers).find(k => markers[k](m[2]));
    if (!k) continue;
    try {
      const f = readFileSync(`/proc/${m[1]}/stat`, 'utf8').split(') ')[1].split(' ');
      out[k] += (Number(f[11]) + Number(f[12])) / hz;
    } catch { /* gone */ }
  }
  return out;
}

/** Where finsync's time went, from the page's resource timings (request kinds and times only,
 *  never a URL: upload URLs carry SAS signatures): seconds from the click to the first request
 *  (planning: fingerprints), to the first PUT and from the last PUT to the end; the time with
 *  fewer than 4 PUTs in flight while PUTs were running; each kind's count and p50 duration. */
async function timeline(page, clickAt, doneAt) {
  const entries = await page.evaluate(() => performance.getEntriesByType('resource').map(e => {
    const u = new URL(e.name);
    const kind = u.pathname.endsWith('/upload-sessions/commit') ? 'commit'
      : u.pathname.endsWith('/upload-sessions') ? 'sessions'
      : u.pathname.includes('/find-or-create') ? 'findOrCreate'
      : u.pathname.startsWith('/api/') ? 'api' : u.searchParams.has('sig') ? 'put' : 'other';
    return { kind, start: e.startTime, end: e.responseEnd || (e.startTime + e.duration) };
  }));
  const rel = entries.filter(e => e.start >= clickAt).map(e => ({ ...e, start: (e.start - clickAt) / 1000, end: (e.end - clickAt) / 1000 }));
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
    total: (doneAt - clickAt) / 1000,
    putsUnder4InFlight: under4,
    putTurnaroundP50Ms: p50(gaps),
    commits: rel.filter(e => e.kind === 'commit').map(e => [Number(e.start.toFixed(2)), Number(e.end.toFixed(2))]),
    sessions: rel.filter(e => e.kind === 'sessions').map(e => [Number(e.start.toFixed(2)), Number(e.end.toFixed(2))]),
    kinds,
  };
}

const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);
const BIG_ROUNDS = Number(process.env.BENCH_BIG_ROUNDS || 2);
const { many, big } = ensureData();
const names = Array.from({ length: N }, (_, i) => `IMG_${i}.jpg`);

// finsync's folder for each round: hard links to the same files under another name.
const links = mkdtempSync(path.join(DATA, 'rounds-'));
const linkedFolder = (from, name) => {
  const dir = path.join(links, name);
  mkdirSync(dir);
  for (const f of readdirSync(from)) linkSync(path.join(from, f), path.join(dir, f));
  return dir;
};
// Warm-up: every file read once, so no client pays for a cold page cache.
for (const dir of [many, big]) for (const f of readdirSync(dir)) execFileSync('cat', [path.join(dir, f)], { stdio: ['ignore', 'ignore', 'inherit'] });

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
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
const sdkBundle = execFileSync(path.join(ROOT, 'node_modules/.bin/esbuild'), [path.join(ROOT, 'tests/bench/sdk-entry.mjs'), '--bundle', '--format=iife', '--minify', '--log-level=error'], { encoding: 'utf8' });

// Every timed client-round runs against a stack of its own in the same state: a new Azurite
// with an empty --location and a new server (an empty database) on new ports. One Azurite for
// the whole run made every client slower round after round: Azurite keeps its metadata in a
// LokiJS database whose lookups (a blob, a block, a container: `findOne` by account first, the
// same for every document, then a scan of the rest) and index updates grow with every blob,
// block and snapshot stored before, and which it serialises whole every 5 s (autosave) — so a
// client's time depended on how many had uploaded before it. `stack` is the current round's.
let stack = null;
// Each page's CDP session (a new one after each navigation: the new origin gets a new renderer).
const cdps = new Map();
let sampler;

/** Loads the app of the current `stack` in `pg` (a new origin: a new, empty IndexedDB, so the
 *  app starts as on a first visit, with the server's demo key and settings), sets concurrency 4
 *  as a person would, waits for the service worker, and injects what the baselines need:
 *  the Azure SDK bundle, hidden file inputs holding the files, the bare XHR pools. */
async function openApp(pg, suffix = '') {
  await pg.goto(`${stack.appUrl}/${suffix}`);
  await pg.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });
  await pg.getByTestId('concurrency').selectOption('4');
  await pg.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor();
  // The service worker precaches the bundle on a first visit: not during a timed run.
  await pg.evaluate(() => Promise.race([navigator.serviceWorker?.ready, new Promise(r => setTimeout(r, 15000))]));
  await pg.addScriptTag({ content: sdkBundle });
  await pg.evaluate(() => {
    for (const id of ['bench-many', 'bench-big']) {
      const i = document.createElement('input'); i.type = 'file'; i.multiple = true; i.id = id; i.hidden = true; document.body.append(i);
    }
    // The bare XHR pool (B2, and the warm-up).
    window.benchXhrPool = async (urls, files, progress) => {
      const put = (url, file) => new Promise((resolve, reject) => {
        const x = new XMLHttpRequest(); x.open('PUT', url); x.setRequestHeader('x-ms-blob-type', 'BlockBlob');
        if (progress) x.upload.onprogress = (e) => { window.__benchLoaded = e.loaded; };
        x.onload = () => x.status === 201 ? resolve() : reject(new Error(`PUT ${x.status}`)); x.onerror = () => reject(new Error('PUT failed'));
        x.send(file);
      });
      const t = performance.now(); let next = 0;
      const worker = async () => { while (next < urls.length) { const i = next++; await put(urls[i], files[i]); } };
      await Promise.all([worker(), worker(), worker(), worker()]);
      return (performance.now() - t) / 1000;
    };
    // The bare block pools (the big file): XHR Put Block, `block` bytes × `parallel` in flight,
    // deterministic IDs, then Put Block List; with each block's Content-MD5 when given.
    window.benchBlockPool = async (url, file, block, parallel, md5s) => {
      const put = (u, body, headers) => new Promise((resolve, reject) => {
        const x = new XMLHttpRequest(); x.open('PUT', u);
        for (const [k, v] of headers) x.setRequestHeader(k, v);
        x.onload = () => x.status === 201 ? resolve() : reject(new Error(`PUT ${x.status}`)); x.onerror = () => reject(new Error('PUT failed'));
        x.send(body);
      });
      const id = (i) => btoa(`bench-block-${String(i).padStart(6, '0')}`);
      const count = Math.ceil(file.size / block);
      const t = performance.now(); let next = 0;
      const worker = async () => { while (next < count) { const i = next++;
        await put(`${url}&comp=block&blockid=${encodeURIComponent(id(i))}`, file.slice(i * block, Math.min(file.size, (i + 1) * block)),
          md5s ? [['Content-MD5', md5s[i]]] : []); } };
      await Promise.all(Array.from({ length: parallel }, worker));
      const xml = '<?xml version="1.0" encoding="utf-8"?><BlockList>' + Array.from({ length: count }, (_, i) => `<Latest>${id(i)}</Latest>`).join('') + '</BlockList>';
      await put(`${url}&comp=blocklist`, xml, [['x-ms-blob-content-type', 'image/jpeg']]);
      return (performance.now() - t) / 1000;
    };
  });
  await pg.setInputFiles('#bench-many', names.map(n => path.join(many, n)));
  await pg.setInputFiles('#bench-big', path.join(big, 'BIG.jpg'));
  // The renderer main thread's busy time per client (CDP Performance metrics), to tell the
  // page's own work from waiting on the network.
  await cdps.get(pg)?.detach().catch(() => {});
  const session = await ctx.newCDPSession(pg);
  await session.send('Performance.enable');
  cdps.set(pg, session);
}

/** Until this browser's renderer processes are the same for `quietMs` (at most `maxMs`): after a
 *  navigation the previous origin's renderer exits, and the memory measured at a run's start
 *  must not include one that is about to go. */
async function renderersSettled(quietMs = 1000, maxMs = 10000) {
  const pids = () => execFileSync('ps', ['-e', '-o', 'pid=,args='], { encoding: 'utf8' }).split('\n')
    .filter(l => l.includes('--type=renderer') && ofThisBrowser(l.trim().replace(/^\d+\s+/, ''))).map(l => l.trim().split(/\s+/)[0]).sort().join(',');
  const until = Date.now() + maxMs;
  let last = pids(), since = Date.now();
  while (Date.now() < until && Date.now() - since < quietMs) {
    await new Promise(r => setTimeout(r, 200));
    const now = pids();
    if (now !== last) { last = now; since = Date.now(); }
  }
}

/** A new stack for one timed client-round: Azurite (empty) and the server, `pg` on its app,
 *  and an untimed warm-up of both and of the page's network stack (20 files by the XHR pool,
 *  so Azurite's JIT is warm), the same for every client. Returns the stack, to stop after. */
async function freshStack(pg, suffix = '') {
  // BENCH_STATIC_DIR: serve another copy of the bundle than dist/ (e.g. a build keeping its function names, for BENCH_PROFILE).
  stack = await startStack({ staticDir: process.env.BENCH_STATIC_DIR || undefined });
  await openApp(pg, suffix);
  const urls = await sasUrls(stack, 'bench-warmup', names.slice(0, 20), FILE_BYTES);
  await pg.evaluate((urls) => window.benchXhrPool(urls, [...document.getElementById('bench-many').files].slice(0, urls.length)), urls);
  await renderersSettled();
  return stack;
}

const results = { files: N, fileMiB: FILE_BYTES / MiB, bigMiB: BIG_BYTES / MiB, rounds: ROUNDS, bigRounds: BIG_ROUNDS, loadAverageAtStart: os.loadavg()[0] };
try { await (async () => { // (a function, so that a partial run can return early)
  const busy = async (session) => Object.fromEntries((await session.send('Performance.getMetrics')).metrics
    .filter(m => ['TaskDuration', 'ScriptDuration', 'LayoutDuration', 'RecalcStyleDuration'].includes(m.name)).map(m => [m.name, m.value]));
  const markers = {
    azurite: (a) => a.includes('azurite') && a.includes(stack.tmp),
    server: (a) => a.includes('finsync-server') && a.includes(stack.tmp),
    renderer: (a) => ofThisBrowser(a) && a.includes('--type=renderer'),
    network: (a) => ofThisBrowser(a) && a.includes('--type=utility') && a.includes('network'),
    browserOther: (a) => ofThisBrowser(a) && a.includes('--type='),
    browserMain: (a) => ofThisBrowser(a),
  };
  const cpu = () => cpuSeconds(markers);
  const cpuDelta = (a, b) => Object.fromEntries(Object.keys(a).map(k => [k, Number((b[k] - a[k]).toFixed(2))]));
  const busyDelta = (a, b) => Object.fromEntries(Object.keys(a).map(k => [k, Number((b[k] - a[k]).toFixed(2))]));

  // Memory: the renderer's VmRSS, sampled every 250 ms while finsync syncs (the baselines run
  // in the same browser): each run's peak over the RSS at its start (the app loaded, the folder
  // picked, the previous origin's renderer gone), and the peak of all runs over the RSS at the
  // first run's start (`baseline`).
  const memory = { baseline: null, peak: 0, samples: [], marks: [], perRun: [] };
  const samplingFrom = Date.now();
  let finsyncRunning = null;
  sampler = setInterval(() => {
    if (!finsyncRunning) return;
    const rss = rendererRss();
    memory.peak = Math.max(memory.peak, rss);
    finsyncRunning.peak = Math.max(finsyncRunning.peak, rss);
    memory.samples.push([(Date.now() - samplingFrom) / 1000, Math.max(0, rss - memory.baseline) / MiB]);
  }, 250);

  /** One finsync sync of `dir` as a person runs it: pick the folder, click Upload, wait for the
   *  summary. Timed in the page from the click to the summary's appearance. */
  let profiled = 0;
  const finsync = async (dir, files, label, pg = page) => {
    const pcdp = cdps.get(pg);
    await pg.bringToFront();
    await pg.getByTestId('folder-input').setInputFiles(dir);
    await pg.evaluate(() => {
      performance.setResourceTimingBufferSize(20000); performance.clearResourceTimings();
      const sel = '[data-testid=summary]';
      const old = document.querySelector(sel);
      let gone = !old;
      const b = window.__bench = { clickAt: null, doneAt: null, text: null };
      const onClick = (e) => { if (b.clickAt === null && e.target.closest?.('[data-testid=upload]')) b.clickAt = performance.now(); };
      document.addEventListener('click', onClick, { capture: true });
      window.__benchDone = new Promise(resolve => {
        const mo = new MutationObserver(() => {
          const s = document.querySelector(sel);
          if (!s) { gone = true; return; }
          if (b.clickAt === null || !(gone || s !== old) || !/^\d+ uploaded/.test(s.textContent)) return;
          b.doneAt = performance.now(); b.text = s.textContent;
          mo.disconnect(); document.removeEventListener('click', onClick, { capture: true }); resolve();
        });
        mo.observe(document.body, { childList: true, subtree: true, characterData: true });
      });
    });
    // BENCH_PROFILE=1: a CPU profile of the page during finsync's first sync of each kind, top
    // functions by self time on stderr (where the main thread's time goes).
    const profiling = process.env.BENCH_PROFILE && !(profiled & (files === 1 ? 2 : 1));
    if (profiling) { profiled |= files === 1 ? 2 : 1; await pcdp.send('Profiler.enable'); await pcdp.send('Profiler.start'); }
    const run = { peak: rendererRss() };
    const before = run.peak;
    memory.baseline ??= before;
    memory.marks.push({ at: (Date.now() - samplingFrom) / 1000, label });
    finsyncRunning = run;
    const busy0 = await busy(pcdp);
    const cpu0 = cpu();
    await pg.getByTestId('upload').click();
    await pg.waitForFunction(() => window.__bench.doneAt !== null, null, { timeout: 600000, polling: 200 });
    const cpuUsed = cpuDelta(cpu0, cpu());
    finsyncRunning = null;
    const mainThread = busyDelta(busy0, await busy(pcdp));
    memory.perRun.push(Math.max(0, run.peak - before) / MiB);
    const { clickAt, doneAt, text } = await pg.evaluate(() => window.__bench);
    if (!text.startsWith(`${files} uploaded`)) {
      const errors = await pg.getByTestId('errors').textContent().catch(() => '');
      throw new Error(`finsync run ${label}: ${text} ${errors}`);
    }
    if (profiling) {
      const { profile } = await pcdp.send('Profiler.stop');
      if (process.env.BENCH_PROFILE_OUT) writeFileSync(process.env.BENCH_PROFILE_OUT, JSON.stringify({ profile, clickAt, doneAt }));
      const self = new Map();
      const dt = profile.timeDeltas; const byId = new Map(profile.nodes.map(n => [n.id, n]));
      profile.samples.forEach((id, i) => { const n = byId.get(id); const f = n.callFrame;
        const k = `${f.functionName || '(anon)'} ${f.url.split('/').pop()}:${f.lineNumber}`; self.set(k, (self.get(k) || 0) + (dt[i] || 0) / 1000); });
      const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 40);
      console.error(`--- profile of finsync ${label}`);
      for (const [k, ms] of top) console.error(`${ms.toFixed(0).padStart(7)} ms  ${k}`);
    }
    const seconds = (doneAt - clickAt) / 1000;
    const tl = await timeline(pg, clickAt, doneAt);
    const variantsAfter = await variantsDrained(stack);
    return { seconds, timeline: tl, mainThread, variantsAfter, cpu: cpuUsed };
  };

  // A/B experiments: BENCH_AB_BASE=<page> runs finsync a second time per round in another
  // tab that loads another build of the app (a stack of its own too, like every client-round).
  const basePage = process.env.BENCH_AB_BASE ? await ctx.newPage() : null;
  // The many-files clients; each returns its seconds (and what else it measured).
  const clients = {
    ...(basePage ? { finsyncBase: async (r) => finsync(linkedFolder(many, `bench-base-r${r}`), N, `other build, ${N} files, round ${r + 1}`, basePage) } : {}),
    finsync: async (r) => finsync(linkedFolder(many, `bench-many-r${r}`), N, `${N} files, round ${r + 1}`),
    pool: async (r) => {
      const urls = await sasUrls(stack, `bench-pool-${r}`, names, FILE_BYTES);
      const busy0 = await busy(cdps.get(page));
      const cpu0 = cpu();
      const seconds = await page.evaluate(async (urls) => {
        const files = document.getElementById('bench-many').files;
        const t = performance.now(); let next = 0;
        const worker = async () => { while (next < files.length) { const i = next++;
          const r = await fetch(urls[i], { method: 'PUT', body: files[i], headers: { 'x-ms-blob-type': 'BlockBlob' } });
          if (r.status !== 201) throw new Error(`PUT ${r.status}`); } };
        await Promise.all([worker(), worker(), worker(), worker()]);
        return (performance.now() - t) / 1000;
      }, urls);
      return { seconds, mainThread: busyDelta(busy0, await busy(cdps.get(page))), cpu: cpuDelta(cpu0, cpu()) };
    },
    // The same pool with XMLHttpRequest (finsync's transport), to tell the transport's share of
    // the gap from the app's own work.
    xhrPool: async (r) => {
      const urls = await sasUrls(stack, `bench-xhr-${r}`, names, FILE_BYTES);
      const busy0 = await busy(cdps.get(page));
      const cpu0 = cpu();
      const seconds = await page.evaluate((urls) => window.benchXhrPool(urls, document.getElementById('bench-many').files), urls);
      return { seconds, mainThread: busyDelta(busy0, await busy(cdps.get(page))), cpu: cpuDelta(cpu0, cpu()) };
    },
    sdk: async (r) => {
      const urls = await sasUrls(stack, `bench-sdk-${r}`, names, FILE_BYTES);
      const busy0 = await busy(cdps.get(page));
      const cpu0 = cpu();
      const seconds = await page.evaluate(async (urls) => {
        const files = [...document.getElementById('bench-many').files];
        const t = performance.now(); await window.sdkUploadFiles(urls, files, 4); return (performance.now() - t) / 1000;
      }, urls);
      return { seconds, mainThread: busyDelta(busy0, await busy(cdps.get(page))), cpu: cpuDelta(cpu0, cpu()) };
    },
    // Parallel curl, 4 transfers at a time, outside the browser. The SAS URLs go into a config
    // file readable only by us (never argv, which `ps` shows, nor any output); curl writes only
    // each response's status code.
    curl: async (r) => {
      const urls = await sasUrls(stack, `bench-curl-${r}`, names, FILE_BYTES);
      const curlDir = mkdtempSync(path.join(os.tmpdir(), 'finsync-bench-curl-'));
      try {
        const q = (v) => '"' + v.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
        const config = names.map((n, i) => `upload-file = ${q(path.join(many, n))}\nurl = ${q(urls[i])}\noutput = "/dev/null"\n`).join('');
        writeFileSync(path.join(curlDir, 'puts.conf'), config, { mode: 0o600 });
        const cpu0 = cpu();
        const t = performance.now();
        const curl = spawnSync('curl', ['--parallel', '--parallel-max', '4', '--silent', '--show-error',
          '-H', 'x-ms-blob-type: BlockBlob', '-w', '%{http_code}\\n', '-K', path.join(curlDir, 'puts.conf')], { encoding: 'utf8' });
        const seconds = (performance.now() - t) / 1000;
        const codes = curl.stdout.split('\n').filter(Boolean);
        const created = codes.filter(c => c === '201').length;
        // stderr could quote a URL: report only the count of failures, never curl's own words.
        if (curl.status !== 0 || created !== N) throw new Error(`curl: exit ${curl.status}, ${created} of ${N} PUTs answered 201`);
        return { seconds, cpu: cpuDelta(cpu0, cpu()) };
      } finally {
        rmSync(curlDir, { recursive: true, force: true });
      }
    },
  };
  // The same XHR pool with an upload progress listener (what finsync registers), opt-in.
  if (process.env.BENCH_CLIENTS?.split(',').includes('xhrProgress')) {
    clients.xhrProgress = async (r) => {
      const urls = await sasUrls(stack, `bench-xhrp-${r}`, names, FILE_BYTES);
      const busy0 = await busy(cdps.get(page));
      const cpu0 = cpu();
      const seconds = await page.evaluate((urls) => window.benchXhrPool(urls, document.getElementById('bench-many').files, true), urls);
      return { seconds, mainThread: busyDelta(busy0, await busy(cdps.get(page))), cpu: cpuDelta(cpu0, cpu()) };
    };
  }
  // BENCH_CLIENTS=a,b,…: only those clients (experiments; prints their rounds and CPU only).
  for (const k of Object.keys(clients)) if (process.env.BENCH_CLIENTS && !process.env.BENCH_CLIENTS.split(',').includes(k)) delete clients[k];
  // BENCH_SKIP_MANY=1 leaves the many-files part out (quicker runs while working on the big file).
  if (process.env.BENCH_SKIP_MANY) for (const k of Object.keys(clients)) delete clients[k];
  const order = Object.keys(clients);
  const runs = Object.fromEntries(order.map(k => [k, []]));
  results.orders = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Rotated by 2 each round: finsync runs 1st, 4th, 2nd; the SDK 4th, 2nd, 5th.
    const turn = order.map((_, i) => order[(i + (process.env.BENCH_CLIENTS ? r : 2 * r)) % order.length]);
    results.orders.push(turn);
    for (const k of turn) {
      const pg = k === 'finsyncBase' ? basePage : page;
      await freshStack(pg, k === 'finsyncBase' ? process.env.BENCH_AB_BASE : '');
      try {
        await pg.bringToFront();
        runs[k].push(await clients[k](r));
        // Once the server's variants queue is empty (finsync waited for it already).
        await variantsDrained(stack);
      } finally {
        await stack.stop({ exited: true });
      }
      console.error(`round ${r + 1}: ${k} ${runs[k].at(-1).seconds.toFixed(2)} s, Azurite ${runs[k].at(-1).cpu.azurite} CPU-s`);
    }
  }
  results.runs = Object.fromEntries(order.map(k => [k, runs[k].map(x => Number(x.seconds.toFixed(3)))]));
  // CPU seconds of Azurite, the server and the browser during each client's timed part, median.
  results.cpu = Object.fromEntries(order.map(k => [k, Object.fromEntries(Object.keys(runs[k][0].cpu).map(m => [m, median(runs[k].map(x => x.cpu[m]))]))]));
  // …and round by round (each round on a new stack: no growth from one round to the next).
  results.cpuRuns = Object.fromEntries(order.map(k => [k, runs[k].map(x => x.cpu)]));
  const med = (k) => median(runs[k].map(x => x.seconds));
  if (process.env.BENCH_CLIENTS) {
    results.mainThreadRuns = Object.fromEntries(order.map(k => [k, runs[k].map(x => x.mainThread?.TaskDuration)]));
    if (runs.finsync) results.finsyncTimelines = runs.finsync.map(x => x.timeline);
    if (runs.finsyncBase) results.finsyncBaseTimelines = runs.finsyncBase.map(x => x.timeline);
    results.partial = true;
    return;
  }
  if (order.length) {
    results.finsyncSeconds = med('finsync');
    results.poolSeconds = med('pool');
    results.xhrPoolSeconds = med('xhrPool');
    results.sdkSeconds = med('sdk');
    results.curlSeconds = med('curl');
    // The finsync round nearest its median, for the timeline.
    const mid = runs.finsync.reduce((a, b) => Math.abs(b.seconds - results.finsyncSeconds) < Math.abs(a.seconds - results.finsyncSeconds) ? b : a);
    results.finsyncTimeline = mid.timeline;
    results.finsyncTimelines = runs.finsync.map(x => x.timeline);
    results.variantsAfterSeconds = median(runs.finsync.map(x => x.variantsAfter));
    results.mainThread = Object.fromEntries(['finsync', 'pool', 'xhrPool', 'sdk'].map(k => [k === 'pool' ? 'fetchPool' : k,
      Object.fromEntries(Object.keys(runs[k][0].mainThread).map(m => [m, median(runs[k].map(x => x.mainThread[m]))]))]));
  }
  results.mainThread ??= {};

  // One big file: finsync (8 MiB blocks, 4 in flight) vs SDK defaults, alternating who goes
  // first. BENCH_SKIP_BIG=1 leaves it out (quicker runs while working on the many-files case).
  if (!process.env.BENCH_SKIP_BIG) {
    // The bare block pools (what finsync's block path costs over the transport and Azurite;
    // `benchBlockPool`, injected by openApp): with and without each block's Content-MD5,
    // computed here beforehand (untimed). (Azurite computes every staged block's MD5 whether or
    // not one is sent, so the two cost Azurite the same.)
    const BLOCK = 8 * MiB;
    const blockMd5s = [];
    {
      const { createHash } = await import('node:crypto');
      const { openSync, readSync, closeSync } = await import('node:fs');
      const fd = openSync(path.join(big, 'BIG.jpg'), 'r');
      const buf = Buffer.alloc(BLOCK);
      for (let at = 0; at < BIG_BYTES; at += BLOCK) {
        const n = readSync(fd, buf, 0, Math.min(BLOCK, BIG_BYTES - at), at);
        blockMd5s.push(createHash('md5').update(buf.subarray(0, n)).digest('base64'));
      }
      closeSync(fd);
    }
    const blockPool = (label, md5s) => async (r) => {
      const [bigUrl] = await sasUrls(stack, `${label}-${r}`, ['BIG.jpg'], BIG_BYTES);
      const busy0 = await busy(cdps.get(page));
      const seconds = await page.evaluate(([url, block, md5s]) =>
        window.benchBlockPool(url, document.getElementById('bench-big').files[0], block, 4, md5s), [bigUrl, BLOCK, md5s]);
      return { seconds, mainThread: busyDelta(busy0, await busy(cdps.get(page))) };
    };
    const bigRuns = { finsync: [], sdk: [], xhrBlocks: [], xhrBlocksMd5: [] };
    const bigClients = {
      xhrBlocks: blockPool('bench-blocks', null),
      xhrBlocksMd5: blockPool('bench-blocks-md5', blockMd5s),
      finsync: (r) => finsync(linkedFolder(big, `bench-big-r${r}`), 1, `one ${BIG_BYTES / MiB} MiB file, round ${r + 1}`),
      sdk: async (r) => {
        const [bigUrl] = await sasUrls(stack, `bench-sdk-big-${r}`, ['BIG.jpg'], BIG_BYTES);
        const busy0 = await busy(cdps.get(page));
        const seconds = await page.evaluate(async (url) => {
          const file = document.getElementById('bench-big').files[0];
          const t = performance.now(); await window.sdkUploadOne(url, file); return (performance.now() - t) / 1000;
        }, bigUrl);
        return { seconds, mainThread: busyDelta(busy0, await busy(cdps.get(page))) };
      },
    };
    results.bigOrders = [];
    for (let r = 0; r < BIG_ROUNDS; r++) {
      // Rotated by one each round, so no client always follows the same one.
      const ks = Object.keys(bigRuns);
      const turn = ks.map((_, i) => ks[(i + r) % ks.length]);
      results.bigOrders.push(turn);
      for (const k of turn) {
        await freshStack(page);
        try {
          bigRuns[k].push(await bigClients[k](r));
          await variantsDrained(stack);
        } finally {
          await stack.stop({ exited: true });
        }
        console.error(`big round ${r + 1}: ${k} ${bigRuns[k].at(-1).seconds.toFixed(2)} s`);
      }
    }
    results.bigRuns = Object.fromEntries(Object.entries(bigRuns).map(([k, v]) => [k, v.map(x => Number(x.seconds.toFixed(3)))]));
    results.finsyncBigSeconds = median(bigRuns.finsync.map(x => x.seconds));
    results.bigMedians = Object.fromEntries(Object.entries(bigRuns).map(([k, v]) => [k, Number(median(v.map(x => x.seconds)).toFixed(3))]));
    results.bigMainThread = Object.fromEntries(Object.entries(bigRuns).map(([k, v]) => [k, median(v.map(x => x.mainThread.TaskDuration))]));
    results.sdkBigSeconds = median(bigRuns.sdk.map(x => x.seconds));
    results.finsyncBigTimeline = bigRuns.finsync.reduce((a, b) => Math.abs(b.seconds - results.finsyncBigSeconds) < Math.abs(a.seconds - results.finsyncBigSeconds) ? b : a).timeline;
    results.variantsAfterBigSeconds = median(bigRuns.finsync.map(x => x.variantsAfter));
    results.mainThread.finsyncBig = Object.fromEntries(Object.keys(bigRuns.finsync[0].mainThread).map(m => [m, median(bigRuns.finsync.map(x => x.mainThread[m]))]));
    results.mainThread.sdkBig = Object.fromEntries(Object.keys(bigRuns.sdk[0].mainThread).map(m => [m, median(bigRuns.sdk.map(x => x.mainThread[m]))]));
  }
  // Issue 6's memory goal is about one 2 GB sync: the 200 files and the big file in one folder
  // (hard links), synced once on a fresh stack; its time is not a throughput figure (it mixes
  // single PUTs and blocks), only the renderer's growth during it is. Not in `perRun`.
  if (!process.env.BENCH_SKIP_BIG && !process.env.BENCH_SKIP_MANY) {
    const both = linkedFolder(many, 'bench-2g');
    linkSync(path.join(big, 'BIG.jpg'), path.join(both, 'BIG.jpg'));
    await freshStack(page);
    try {
      const gib = (N * FILE_BYTES + BIG_BYTES) / 2 ** 30;
      const x = await finsync(both, N + 1, `one sync of ${gib.toFixed(2)} GiB (${N} files and the big one)`);
      results.oneSyncGiB = gib;
      results.oneSyncSeconds = x.seconds;
      results.oneSyncRssGrowthMiB = memory.perRun.pop();
      console.error(`one sync of ${gib.toFixed(2)} GiB: ${x.seconds.toFixed(2)} s, renderer grew ${results.oneSyncRssGrowthMiB.toFixed(1)} MiB`);
    } finally {
      await stack.stop({ exited: true });
    }
  }
  clearInterval(sampler);
  results.memorySamples = memory.samples.map(([t, m]) => [Number(t.toFixed(2)), Number(m.toFixed(1))]);
  results.memoryMarks = memory.marks.map(m => ({ at: Number(m.at.toFixed(2)), label: m.label }));
  results.rendererRssGrowthMiB = Math.max(0, memory.peak - (memory.baseline ?? memory.peak)) / MiB;
  results.rendererRssGrowthPerRunMiB = memory.perRun.map(x => Number(x.toFixed(1)));
  results.finsyncGiB = (ROUNDS * N * FILE_BYTES + (process.env.BENCH_SKIP_BIG ? 0 : BIG_ROUNDS * BIG_BYTES)) / 2 ** 30;
})(); } finally {
  clearInterval(sampler);
  await ctx.close();
  await stack?.stop();
  rmSync(links, { recursive: true, force: true });
  rmSync(profile, { recursive: true, force: true });
}
if (results.partial) {
  console.log(JSON.stringify(results));
  process.exit(0);
}
const mbps = (bytes, s) => bytes / MiB / s;
results.finsyncMiBps = mbps(N * FILE_BYTES, results.finsyncSeconds);
results.poolMiBps = mbps(N * FILE_BYTES, results.poolSeconds);
results.xhrPoolMiBps = mbps(N * FILE_BYTES, results.xhrPoolSeconds);
results.sdkMiBps = mbps(N * FILE_BYTES, results.sdkSeconds);
results.curlMiBps = mbps(N * FILE_BYTES, results.curlSeconds);
// finsync ÷ the SDK in each round (the same round's two runs), next to the ratio of medians.
results.vsSdkPerRound = results.runs.finsync?.map((s, i) => Number((results.runs.sdk[i] / s).toFixed(3)));
if (!process.env.BENCH_SKIP_BIG) {
  results.finsyncBigMiBps = mbps(BIG_BYTES, results.finsyncBigSeconds);
  results.sdkBigMiBps = mbps(BIG_BYTES, results.sdkBigSeconds);
  results.bigVsSdkPerRound = results.bigRuns.finsync.map((s, i) => Number((results.bigRuns.sdk[i] / s).toFixed(3)));
}
// The machine is shared: its 1-minute load average at the start and the end says how busy.
results.loadAverageAtEnd = os.loadavg()[0];
console.log(JSON.stringify(results));
