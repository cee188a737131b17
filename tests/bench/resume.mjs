// Resume overhead, side by side in one run: the same sync (N × 5 MiB JPEGs, 4 in flight, a
// persistent Chromium profile, a fresh server and Azurite each) run
//   A. without interruption, and
//   B. with the browser killed (SIGKILL) once about half of the PUTs are answered, then relaunched
//      on the same profile, the folder selected again and the sync finished.
// Reported: the extra seconds B costs (time up to the kill + time from the relaunch to the
// summary, minus A), the time from the relaunch to the first PUT, and the bytes PUT twice. Both
// runs are checked from the server: N images in the encounter, none twice. Prints one JSON object.
import { mkdirSync, writeFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import os from 'node:os';
import { chromium } from 'playwright-core';
import { startStack, CHROMIUM_ARGS } from '../e2e/support/env.mjs';
import { makeBigJpeg } from '../e2e/support/jpeg.mjs';

const N = Number(process.env.BENCH_FILES || 200);
const FILE_BYTES = 5 * 1024 * 1024;
const DATA = process.env.BENCH_DATA || path.join(os.tmpdir(), 'finsync-bench-data');
const MiB = 1024 * 1024;
const sleep = (ms) => new Promise(r => setTimeout(r, ms));

// The same files as upload.mjs (made there first under `make bench`).
const folder = path.join(DATA, `many-${N}`);
if (!existsSync(path.join(folder, `IMG_${N - 1}.jpg`))) {
  mkdirSync(folder, { recursive: true });
  for (let i = 0; i < N; i++) writeFileSync(path.join(folder, `IMG_${i}.jpg`), makeBigJpeg(FILE_BYTES, i + 1));
}

const launch = (profile) => chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });

function browserPid(profile) {
  const ps = execFileSync('ps', ['-e', '-o', 'pid=,args='], { encoding: 'utf8' });
  for (const line of ps.split('\n')) {
    const m = /^\s*(\d+)\s+(.*)$/.exec(line);
    if (m && m[2].includes(`--user-data-dir=${profile}`) && !m[2].includes('--type=')) return Number(m[1]);
  }
  return null;
}

async function open(stack, ctx) {
  const page = ctx.pages()[0] || await ctx.newPage();
  await page.goto(stack.appUrl);
  await page.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor({ timeout: 30000 });
  await page.getByTestId('concurrency').selectOption('4');
  return page;
}

/** PUT bodies by request: whole-file PUTs carry the file; block PUTs their block. */
function watchPuts(stack, page, log) {
  page.on('request', r => {
    if (r.method() !== 'PUT' || !r.url().startsWith(stack.blobUrl)) return;
    if (log.firstPutAt === null) log.firstPutAt = Date.now();
    log.started++;
    const block = new URL(r.url()).searchParams.get('comp');
    // Whole-file PUTs of these files are FILE_BYTES; a block list carries no image bytes.
    log.bytes += block === 'blocklist' ? 0 : (Number(r.headers()['content-length']) || FILE_BYTES);
  });
  page.on('requestfinished', r => {
    if (r.method() === 'PUT' && r.url().startsWith(stack.blobUrl)) log.answered++;
  });
}

async function serverImages(stack) {
  const out = execFileSync('sqlite3', ['-readonly', path.join(stack.tmp, 'server.db'),
    'SELECT COUNT(*), COUNT(DISTINCT file_name) FROM file_items'], { encoding: 'utf8' }).trim();
  const [all, distinct] = out.split('|').map(Number);
  return { all, distinct };
}

async function finish(page) {
  await page.getByTestId('folder-input').setInputFiles(folder);
  await page.getByTestId('upload').click();
  await page.getByTestId('summary').waitFor({ timeout: 600000 });
  return page.getByTestId('summary').textContent();
}

async function uninterrupted() {
  const stack = await startStack();
  const profile = mkdtempSync(path.join(os.tmpdir(), 'finsync-bench-resume-'));
  try {
    const ctx = await launch(profile);
    const page = await open(stack, ctx);
    const log = { started: 0, answered: 0, bytes: 0, firstPutAt: null };
    watchPuts(stack, page, log);
    const t0 = Date.now();
    const summary = await finish(page);
    const seconds = (Date.now() - t0) / 1000;
    await ctx.close();
    if (!summary.startsWith(`${N} uploaded`)) throw new Error(`uninterrupted run: ${summary}`);
    const images = await serverImages(stack);
    if (images.all !== N || images.distinct !== N) throw new Error(`uninterrupted run: server holds ${images.all} images (${images.distinct} distinct)`);
    return { seconds, puts: log.started, bytes: log.bytes, clickToFirstPutSeconds: (log.firstPutAt - t0) / 1000 };
  } finally {
    await stack.stop();
    rmSync(profile, { recursive: true, force: true });
  }
}

async function interrupted() {
  const stack = await startStack();
  const profile = mkdtempSync(path.join(os.tmpdir(), 'finsync-bench-resume-'));
  try {
    let ctx = await launch(profile);
    const pid = browserPid(profile);
    if (!pid) throw new Error('no browser process for the profile');
    let page = await open(stack, ctx);
    const before = { started: 0, answered: 0, bytes: 0, firstPutAt: null };
    watchPuts(stack, page, before);
    await page.getByTestId('folder-input').setInputFiles(folder);
    const t0 = Date.now();
    await page.getByTestId('upload').click();
    while (before.answered < N / 2 && Date.now() - t0 < 600000) await sleep(2);
    process.kill(pid, 'SIGKILL');
    const killedAt = Date.now();
    const answeredAtKill = before.answered;
    await Promise.race([ctx.close().catch(() => {}), sleep(5000)]);

    const relaunchAt = Date.now();
    ctx = await launch(profile);
    page = await open(stack, ctx);
    const readyAt = Date.now();
    const bannerShown = await page.getByTestId('resume-banner').count() > 0;
    const after = { started: 0, answered: 0, bytes: 0, firstPutAt: null };
    watchPuts(stack, page, after);
    const clickAt = Date.now();
    const summary = await finish(page);
    const doneAt = Date.now();
    await ctx.close();
    if (!/ 0 failed/.test(summary)) throw new Error(`resumed run: ${summary}`);
    const images = await serverImages(stack);
    if (images.all !== N || images.distinct !== N) throw new Error(`resumed run: server holds ${images.all} images (${images.distinct} distinct)`);
    return {
      seconds: (killedAt - t0 + doneAt - relaunchAt) / 1000,
      beforeKillSeconds: (killedAt - t0) / 1000,
      relaunchToReadySeconds: (readyAt - relaunchAt) / 1000,
      relaunchToFirstPutSeconds: (after.firstPutAt - relaunchAt) / 1000,
      clickToFirstPutSeconds: (after.firstPutAt - clickAt) / 1000,
      afterRelaunchSeconds: (doneAt - relaunchAt) / 1000,
      answeredAtKill, putsBefore: before.started, putsAfter: after.started,
      bytes: before.bytes + after.bytes, bannerShown, summary: summary.trim(),
    };
  } finally {
    await stack.stop();
    rmSync(profile, { recursive: true, force: true });
  }
}

const a = await uninterrupted();
const b = await interrupted();
console.log(JSON.stringify({
  files: N, fileMiB: FILE_BYTES / MiB, uninterrupted: a, interrupted: b,
  extraSeconds: b.seconds - a.seconds,
  resentPuts: b.putsBefore + b.putsAfter - a.puts,
  resentMiB: (b.bytes - a.bytes) / MiB,
}));
