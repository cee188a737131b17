// The app as a hosted bundle (issue 9): the security headers and no CSP violation through a
// whole upload, nothing fetched from a third-party host, the offline app shell (service
// worker), the "New version — reload" prompt that never interrupts a sync, and the fallback
// folder input in a browser without the File System Access API.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, readFileSync, cpSync, rmSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStack, launchBrowser, outDir, ROOT } from './support/env.mjs';
import { makeJpeg } from './support/jpeg.mjs';

let stack, browser, bundle;
const out = outDir('shell');

/** A folder of `n` small JPEGs named `${prefix}_i.jpg`. */
function folder(name, n, seed) {
  const dir = path.join(out, name);
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < n; i++) {
    writeFileSync(path.join(dir, `${name.replace(/\W/g, '')}_${i}.jpg`),
      makeJpeg({ seed: seed + i, width: 320, height: 240, exif: { date: '2024:09:02 11:00:00', artist: 'Kim Lee' } }));
  }
  return dir;
}

before(async () => {
  // The update test rewrites sw.js, so the server gets its own copy of the bundle.
  bundle = mkdtempSync(path.join(os.tmpdir(), 'finsync-bundle-'));
  cpSync(path.join(ROOT, 'dist'), bundle, { recursive: true });
  stack = await startStack({ staticDir: bundle });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
  if (bundle) rmSync(bundle, { recursive: true, force: true });
});

/** Opens the app in `context` and collects what the page logs about itself. */
async function open(context) {
  const page = await context.newPage();
  const log = { errors: [], csp: [], requests: [] };
  page.on('console', (m) => {
    if (m.type() === 'error') log.errors.push(m.text());
    if (/Content Security Policy|Refused to/i.test(m.text())) log.csp.push(m.text());
  });
  page.on('pageerror', (e) => log.errors.push(String(e)));
  page.on('request', (r) => log.requests.push(r.url()));
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  const response = await page.goto(stack.appUrl);
  await page.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });
  return { page, log, response };
}

/** Waits until the service worker controls `page` (its first install claims open pages). */
async function controlled(page) {
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 20000 });
}

async function upload(page, dir, expected) {
  await page.getByTestId('folder-input').setInputFiles(dir);
  await page.getByTestId('upload').click();
  await page.getByTestId('summary').waitFor({ timeout: 60000 });
  assert.match(await page.getByTestId('summary').textContent(), new RegExp(`^${expected} uploaded, 0 already on the server, 0 failed`));
}

test('the page carries a strict CSP, and a whole upload violates none of it', async () => {
  const context = await browser.newContext();
  const { page, log, response } = await open(context);
  const h = response.headers();
  const csp = h['content-security-policy'] ?? '';
  // No inline script at all (postbuild moves trunk's loader into a file), so no hash either.
  assert.ok(csp.includes("script-src 'self' 'wasm-unsafe-eval';"), csp);
  assert.doesNotMatch(await response.text(), /<script(?![^>]*\ssrc=)[^>]*>/);
  // The server, its blob endpoint, and the research groups' accounts cloud discovery lists
  // (--source-blob-origins, default Azure's blob hosts).
  assert.ok(csp.includes(`connect-src 'self' ${stack.appUrl} ${new URL(stack.blobUrl).origin} https://*.blob.core.windows.net;`), csp);
  assert.ok(csp.includes("frame-ancestors 'none'") && !csp.includes('unsafe-inline'), csp);
  assert.equal(h['x-content-type-options'], 'nosniff');
  assert.equal(h['referrer-policy'], 'no-referrer');
  assert.ok(h['permissions-policy']?.includes('camera=()'));

  await upload(page, folder('CSP survey', 3, 700), 3);
  // The sync leaves the page busy for a moment after the summary (activity log, refresh).
  await page.waitForTimeout(500);
  assert.deepEqual(await page.evaluate(() => window.__cspViolations), []);
  assert.deepEqual(log.csp, []);
  assert.deepEqual(log.errors, []);
  // Nothing but this server and the blob endpoint (and the page's own blob: URLs).
  const origins = new Set(log.requests.filter((u) => /^https?:/.test(u)).map((u) => new URL(u).origin));
  assert.deepEqual([...origins].sort(), [stack.appUrl, new URL(stack.blobUrl).origin].sort());
  await context.close();
});

test('the bundle comes precompressed: the wasm as brotli, or gzip where brotli is not accepted', async () => {
  const html = await (await fetch(stack.appUrl)).text();
  const wasm = /<link rel="preload" href="([^"]+_bg\.wasm)"/.exec(html)?.[1];
  assert.ok(wasm, 'index.html loads a wasm file');
  for (const [accept, encoding] of [['gzip, deflate, br', 'br'], ['gzip', 'gzip']]) {
    // node's fetch decodes the body; the header says what travelled.
    const r = await fetch(stack.appUrl + wasm, { headers: { 'accept-encoding': accept } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-encoding'), encoding);
    assert.equal(r.headers.get('content-type'), 'application/wasm');
    assert.equal(r.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.ok(Buffer.from(await r.arrayBuffer()).equals(readFileSync(path.join(bundle, wasm))));
  }
});

test('offline, a reload still opens the app with its stored state', async () => {
  const context = await browser.newContext();
  const { page, log } = await open(context);
  await controlled(page);
  await upload(page, folder('Offline shell', 2, 720), 2);

  await context.setOffline(true);
  await page.reload();
  // The shell came from the service worker; the state from IndexedDB; the server is out of reach.
  await page.getByTestId('key-status').filter({ hasText: 'Server unreachable' }).waitFor({ timeout: 20000 });
  await page.getByTestId('image-status-toggle').click();
  await page.getByTestId('encounter-toggle').click();
  await page.getByTestId('file-status').first().waitFor();
  assert.equal(await page.getByTestId('file-status').filter({ hasText: 'Complete' }).count(), 2);
  await page.getByTestId('nav-settings').click();
  assert.equal(await page.getByPlaceholder('https://sync.example.org').inputValue(), stack.appUrl);
  await page.screenshot({ path: path.join(out, 'offline-reload.png'), fullPage: true });

  // The cache holds the bundle's files and nothing else: no API answer, no demo config, no blob.
  const cached = await page.evaluate(async () => {
    const names = await caches.keys();
    const urls = [];
    for (const n of names) for (const r of await (await caches.open(n)).keys()) urls.push(r.url);
    return { names, urls };
  });
  assert.equal(cached.names.length, 1);
  const sw = readFileSync(path.join(bundle, 'sw.js'), 'utf8');
  const precache = JSON.parse(/^const PRECACHE = (.*);$/m.exec(sw)[1]);
  assert.deepEqual(cached.urls.map((u) => new URL(u).pathname.slice(1)).sort(), [...precache].sort());
  assert.ok(precache.includes('index.html') && precache.some((f) => f.endsWith('_bg.wasm')));
  assert.deepEqual(log.errors.filter((e) => !/ERR_INTERNET_DISCONNECTED|Failed to fetch/.test(e)), []);
  await context.close();
});

test('a new deploy shows "New version — reload" once no sync runs, and Reload switches to it', async () => {
  const context = await browser.newContext();
  const { page } = await open(context);
  await controlled(page);
  const versionOf = (text) => /^const VERSION = '([^']+)';$/m.exec(text)[1];
  const swPath = path.join(bundle, 'sw.js');
  const oldSw = readFileSync(swPath, 'utf8');
  const oldVersion = versionOf(oldSw);

  // A sync that runs until the test lets it go: blob PUTs wait for `release`.
  const dir = folder('Update survey', 4, 740);
  let release;
  const gate = new Promise((r) => { release = r; });
  await page.route(`${stack.blobUrl}/**`, async (route) => {
    if (route.request().method() === 'PUT') await gate;
    await route.continue();
  });
  await page.getByTestId('folder-input').setInputFiles(dir);
  await page.getByTestId('upload').click();
  await page.getByTestId('cancel').waitFor();

  // Deploy: a new sw.js (what postbuild writes when any file changes); the server has no
  // compressed copies of it now, so it sends the new file itself.
  const newVersion = 'e2e' + Date.now().toString(16);
  writeFileSync(swPath, oldSw.replace(`'${oldVersion}'`, `'${newVersion}'`));
  rmSync(swPath + '.br', { force: true });
  rmSync(swPath + '.gz', { force: true });
  await page.evaluate(async () => (await navigator.serviceWorker.getRegistration()).update());
  await page.waitForFunction(async () => !!(await navigator.serviceWorker.getRegistration())?.waiting, null, { timeout: 20000 });
  await page.locator('html[data-update-ready]').waitFor({ state: 'attached', timeout: 5000 });
  await page.waitForTimeout(300);
  assert.equal(await page.getByTestId('summary').count(), 0, 'the sync still runs');
  assert.equal(await page.getByTestId('update-prompt').count(), 0, 'no prompt during a sync');

  // The sync ends; now the prompt shows.
  release();
  await page.getByTestId('summary').waitFor({ timeout: 60000 });
  await page.getByTestId('update-prompt').waitFor({ timeout: 5000 });
  assert.match(await page.getByTestId('update-prompt').textContent(), /New version — reload/);
  await page.screenshot({ path: path.join(out, 'update-prompt.png'), fullPage: true });
  await Promise.all([
    page.waitForEvent('load', { timeout: 20000 }),
    page.getByTestId('update-reload').click(),
  ]);
  await page.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });
  assert.equal(await page.getByTestId('update-prompt').count(), 0);
  assert.deepEqual(await page.evaluate(() => caches.keys()), [`finsync-shell-${newVersion}`]);
  await context.close();
});

test('without showDirectoryPicker (Firefox, Safari) the folder input uploads, and a resume asks for the folder again', async () => {
  const context = await browser.newContext();
  await context.addInitScript(() => {
    delete Window.prototype.showDirectoryPicker;
    delete window.showDirectoryPicker;
  });
  const { page, log } = await open(context);
  assert.equal(await page.evaluate(() => 'showDirectoryPicker' in window), false);
  assert.equal(await page.getByTestId('choose-folder').count(), 0, 'no picker button without the API');
  assert.match(await page.getByRole('region', { name: 'Photos' }).locator('label.file-label').textContent(), /Select a folder/);

  // Start, and leave the tab while PUTs are held, so the sync is interrupted.
  const dir = folder('Fallback survey', 6, 760);
  let puts = 0;
  await page.route(`${stack.blobUrl}/**`, async (route) => {
    if (route.request().method() === 'PUT' && ++puts > 2) return; // never answered
    await route.continue();
  });
  await page.getByTestId('folder-input').setInputFiles(dir);
  await page.getByTestId('upload').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=file-status]').length > 0);
  const until = Date.now() + 20000;
  while (puts < 4 && Date.now() < until) await page.waitForTimeout(50);
  await page.close({ runBeforeUnload: false });

  // Back in the same browser: no remembered folder handle, so the banner asks to select the
  // folder again, and doing that finishes the sync.
  const again = await context.newPage();
  again.on('pageerror', (e) => log.errors.push(String(e)));
  await again.goto(stack.appUrl);
  await again.getByTestId('resume-banner').waitFor({ timeout: 20000 });
  assert.match(await again.getByTestId('resume-banner').textContent(), /Select the folder “Fallback survey” again/);
  assert.equal(await again.getByTestId('resume').count(), 0);
  await again.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });
  await again.getByTestId('folder-input').setInputFiles(dir);
  await again.getByTestId('upload').click();
  await again.getByTestId('summary').waitFor({ timeout: 60000 });
  assert.match(await again.getByTestId('summary').textContent(), / 0 failed/);
  assert.equal(await again.getByTestId('file-status').filter({ hasText: 'Complete' }).count(), 6);
  assert.deepEqual(log.errors, []);
  await context.close();
});
