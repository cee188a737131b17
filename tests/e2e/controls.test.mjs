// The sync controls a person uses while a sync runs, through the real UI against the real
// server and Azurite: Pause stops new uploads (those in flight finish) and Resume finishes the
// sync with every image once; closing the tab mid-sync asks first (beforeunload), and not
// after; a sync that ran longer than a minute ends with a notification when allowed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startStack, launchBrowser, outDir, readContainer } from './support/env.mjs';
import { makeJpeg } from './support/jpeg.mjs';

let stack, browser;
const out = outDir('controls');

before(async () => { stack = await startStack(); browser = await launchBrowser(); });
after(async () => { await browser?.close(); await stack?.stop(); });

function makeFolder(name, count, seed) {
  const folder = path.join(out, name);
  mkdirSync(folder, { recursive: true });
  const files = [];
  for (let i = 0; i < count; i++) {
    const bytes = makeJpeg({ seed: seed + i, width: 640, height: 480, quality: 95 });
    const file = `${name.replace(/\W/g, '')}_${i}.jpg`;
    writeFileSync(path.join(folder, file), bytes);
    files.push({ name: file, bytes });
  }
  return { folder, files };
}

async function openApp(context) {
  const page = await context.newPage();
  await page.goto(stack.appUrl);
  await page.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });
  return page;
}

// Uploads slow enough to act on mid-sync: Chromium's own network emulation (~30 KB per file).
async function throttle(page, bytesPerSecond) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 20, downloadThroughput: 10_000_000, uploadThroughput: bytesPerSecond,
  });
  return cdp;
}

async function assertEachOnce(files) {
  const blobs = await readContainer(stack.blobService, stack.container);
  for (const f of files) {
    const match = [...blobs.entries()].filter(([n]) => n.endsWith('/' + f.name));
    assert.equal(match.length, 1, `${f.name} is on the blob store once`);
    assert.ok(match[0][1].equals(f.bytes), `${f.name} byte-exact`);
  }
}

test('Pause stops new uploads, Resume finishes the sync with every image once', async () => {
  const { folder, files } = makeFolder('Pause pass', 16, 700);
  const context = await browser.newContext();
  const page = await openApp(context);
  const cdp = await throttle(page, 150_000);
  const putStarts = [];
  page.on('request', r => { if (r.method() === 'PUT') putStarts.push(Date.now()); });
  await page.getByTestId('folder-input').setInputFiles(folder);
  await page.getByTestId('upload').click();
  const until = Date.now() + 30000;
  while (putStarts.length < 3 && Date.now() < until) await new Promise(r => setTimeout(r, 10));
  assert.ok(putStarts.length >= 3, 'uploads started');
  await page.getByTestId('pause').click();
  const pausedAt = Date.now();
  await page.getByTestId('pause').filter({ hasText: 'Resume' }).waitFor({ timeout: 5000 });
  // In-flight PUTs finish; none starts while paused (a short grace for one already queued).
  await new Promise(r => setTimeout(r, 4000));
  const startedWhilePaused = putStarts.filter(t => t > pausedAt + 500).length;
  assert.equal(startedWhilePaused, 0, 'no upload starts while paused');
  const before = putStarts.length;
  assert.ok(before < files.length, `paused with work left (${before} of ${files.length} PUTs started)`);
  assert.equal(await page.getByTestId('summary').count(), 0, 'the sync has not ended');
  await page.screenshot({ path: path.join(out, 'paused.png'), fullPage: true });
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1,
  });
  await page.getByTestId('pause').click();
  await page.getByTestId('summary').waitFor({ timeout: 60000 });
  assert.match(await page.getByTestId('summary').textContent(), /^16 uploaded, 0 already on the server, 0 failed/);
  await assertEachOnce(files);
  await context.close();
});

test('closing the tab mid-sync asks first; after the sync it does not', async () => {
  const { folder, files } = makeFolder('Leave guard', 10, 800);
  const context = await browser.newContext();
  const page = await openApp(context);
  const cdp = await throttle(page, 100_000);
  const dialogs = [];
  page.on('dialog', d => { dialogs.push(d.type()); d.dismiss().catch(() => {}); });
  await page.getByTestId('folder-input').setInputFiles(folder);
  await page.getByTestId('upload').click();
  await page.getByTestId('pause').waitFor();
  // Chromium only asks a page the person has interacted with: the clicks above count.
  await page.close({ runBeforeUnload: true });
  const until = Date.now() + 5000;
  while (dialogs.length === 0 && Date.now() < until) await new Promise(r => setTimeout(r, 20));
  assert.deepEqual(dialogs, ['beforeunload'], 'the tab asks before closing mid-sync');
  assert.equal(page.isClosed(), false, 'dismissing the question keeps the tab and its sync');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1,
  });
  await page.getByTestId('summary').waitFor({ timeout: 60000 });
  assert.match(await page.getByTestId('summary').textContent(), /^10 uploaded/);
  await assertEachOnce(files);
  await page.close({ runBeforeUnload: true });
  await new Promise(r => setTimeout(r, 1000));
  assert.deepEqual(dialogs, ['beforeunload'], 'no question once the sync has ended');
  assert.equal(page.isClosed(), true);
  await context.close();
});

test('a sync longer than a minute ends with a notification when the person allowed it', async () => {
  const { folder } = makeFolder('Long sync', 6, 900);
  const context = await browser.newContext();
  await context.grantPermissions(['notifications'], { origin: new URL(stack.appUrl).origin });
  // Record what the app shows through the real Notification API.
  await context.addInitScript(() => {
    const Real = window.Notification;
    window.__notes = [];
    window.Notification = class extends Real {
      constructor(title, opts) { super(title, opts); window.__notes.push({ title, body: opts?.body ?? '' }); }
    };
  });
  const page = await context.newPage();
  // A fake clock that still runs: the test moves it two minutes ahead mid-sync.
  await page.clock.install();
  await page.goto(stack.appUrl);
  await page.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });
  const cdp = await throttle(page, 60_000);
  await page.getByTestId('folder-input').setInputFiles(folder);
  await page.getByTestId('upload').click();
  await page.getByTestId('pause').waitFor();
  await page.clock.fastForward('02:00');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1,
  });
  await page.getByTestId('summary').waitFor({ timeout: 60000 });
  await page.waitForFunction(() => window.__notes.length > 0, null, { timeout: 5000 });
  const notes = await page.evaluate(() => window.__notes);
  assert.equal(notes.length, 1);
  assert.equal(notes[0].title, 'finsync: sync finished');
  assert.match(notes[0].body, /^6 uploaded, 0 already on the server, 0 failed/);
  await context.close();
});
