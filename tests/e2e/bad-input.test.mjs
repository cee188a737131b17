// The bad-input corpus (issue 10; the table is docs/bad-inputs.md) through the real app, the
// server (test mode) and Azurite: a scanned folder of broken, lying and oddly named files; 10 000
// tiny files; a manifest with a broken rule; files deleted, changed or undecodable between scan
// and sync; and a sync table of bad server answers (garbage JSON, an HTML error page, 413, 429
// with Retry-After), a key revoked mid-sync, an expired SAS mid-upload and a skewed clock.
// Each case: the clear message (naming the file or field and what to do), nothing uploaded
// wrongly, nothing lost, the rest goes on. Throughout, no API key or SAS signature appears in
// a URL the app requests to the API, in the console, in the activity export or the audit log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startStack, launchBrowser, outDir, readContainer, AZURITE_ACCOUNT, AZURITE_KEY } from './support/env.mjs';
import { generateBlobSASQueryParameters, BlobSASPermissions, SASProtocol, StorageSharedKeyCredential } from '@azure/storage-blob';
import { writeScanCorpus, writeManyFiles, goodJpeg } from '../fixtures/make-bad-inputs.mjs';
import { waitText } from './support/wait.mjs';

let stack, browser, context, page;
const out = outDir('bad-input');
const corpusRoot = path.join(out, 'Corpus');
const manyRoot = path.join(out, 'Many');
let cases;
/** Everything the app did that could leak a secret. */
const seen = { requests: [], console: [] };

function watch(p) {
  p.on('request', r => seen.requests.push({ method: r.method(), url: r.url() }));
  p.on('console', m => seen.console.push(m.text()));
  p.on('pageerror', e => seen.console.push(`pageerror: ${e}`));
}

before(async () => {
  cases = writeScanCorpus(corpusRoot);
  writeManyFiles(manyRoot, 10_000);
  stack = await startStack({ testMode: true });
  browser = await launchBrowser();
  context = await browser.newContext({ acceptDownloads: true });
  page = await context.newPage();
  watch(page);
  await page.goto(`${stack.appUrl}/#/discover`);
  await page.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });
});
after(async () => { await browser?.close(); await stack?.stop(); });

const shot = (name) => page.screenshot({ path: path.join(out, `${name}.png`), fullPage: true });
const nfc = s => s.normalize('NFC');
const api = (p, opts = {}) => fetch(`${stack.appUrl}${p}`, {
  ...opts, headers: { Authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json', ...(opts.headers ?? {}) },
});
async function setFaults(routes, kinds) {
  const r = await fetch(`${stack.appUrl}/api/v1/test/faults`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ routes, rate: routes.length ? 1 : 0, kinds, seed: 1 }),
  });
  assert.equal(r.status, 200, await r.text());
}

/** Scans `root` on the Discover page; returns the job locator once it is done. */
async function scan(root, name) {
  await page.getByTestId('nav-discover').click();
  await page.getByTestId('scan-folder-input').setInputFiles(root);
  const job = page.getByTestId('scan-job').filter({ hasText: name }).first();
  await job.getByTestId('scan-job-state').filter({ hasText: 'Done' }).waitFor({ timeout: 120000 });
  return job;
}

test('scan: every bad file is named with what is wrong, and the rest of the scan goes on', async () => {
  const consoleBefore = seen.console.length;
  const job = await scan(corpusRoot, 'Corpus');
  const counts = await job.getByTestId('scan-job-counts').textContent();
  const by = kind => cases.filter(c => c.expect === kind);
  const images = cases.length - by('skipped').length - by('error').length;
  assert.match(counts, new RegExp(`^${cases.length} files: ${images} images`), counts);
  assert.match(counts, new RegExp(`${by('error').length} with problems`), counts);
  await job.getByRole('button', { name: 'Details' }).click();
  const details = page.getByTestId('scan-details');
  const errorLines = (await details.getByTestId('scan-error-list').locator('li').allTextContents()).map(nfc);
  const warnBox = details.locator('details', { hasText: 'Images with metadata warnings' });
  await warnBox.locator('summary').click();
  const warnLines = (await warnBox.locator('li').allTextContents()).map(nfc);
  await shot('1-corpus-scanned');
  const lineOf = (lines, c) => lines.find(l => l.startsWith(nfc(`Corpus/${c.path}`) + ' — '));
  const report = cases.map(c => `${c.id} [${c.expect}]: ${lineOf(errorLines, c) ?? lineOf(warnLines, c) ?? '(no message)'}`);
  writeFileSync(path.join(out, 'scan-messages.txt'), `${counts}\n${report.join('\n')}\n--- errors\n${errorLines.join('\n')}\n--- warnings\n${warnLines.join('\n')}\n`);
  for (const c of cases) {
    const err = lineOf(errorLines, c);
    const warn = lineOf(warnLines, c);
    if (c.expect === 'error') {
      assert.ok(err, `${c.id}: ${c.path} is listed as unusable`);
      assert.match(err, c.message, c.id);
    } else if (c.expect === 'warning') {
      assert.ok(!err, `${c.id}: ${c.path} stays an image: ${err}`);
      assert.ok(warn, `${c.id}: ${c.path} has a metadata warning`);
      assert.match(warn, c.message, c.id);
    } else {
      assert.ok(!err, `${c.id}: ${c.path} is not an error: ${err}`);
      if (c.expect === 'image' && c.id.startsWith('good')) assert.ok(!warn, `${c.id}: no warning: ${warn}`);
    }
  }
  // No panic or error in the console while scanning the corpus.
  const problems = seen.console.slice(consoleBefore).filter(l => /panic|RuntimeError|pageerror/i.test(l));
  assert.deepEqual(problems, []);
  await details.getByRole('button', { name: 'Close' }).click();
});

test('scan: 10 000 tiny files in 100 folders', async () => {
  const t0 = Date.now();
  const job = await scan(manyRoot, 'Many');
  const seconds = (Date.now() - t0) / 1000;
  const counts = await job.getByTestId('scan-job-counts').textContent();
  assert.match(counts, /^10000 files: 10000 images/, counts);
  console.log(`bad-input: 10 000 tiny files scanned in ${seconds.toFixed(1)} s (input + scan)`);
  await shot('2-many-scanned');
});

// ---------------------------------------------------------------------------------------------
// Sync through bad answers: fault on → Sync → the message → fault off → Retry → all there once.

/** Makes a folder of `n` unique JPEGs for one sync case; returns { dir, files }. */
function syncFolder(id, n, seed) {
  const dir = path.join(out, `Sync ${id}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const files = [];
  for (let i = 0; i < n; i++) {
    const name = `${id}-${i}.jpg`;
    const bytes = goodJpeg(seed + i);
    writeFileSync(path.join(dir, name), bytes);
    files.push({ name, bytes });
  }
  return { dir, files };
}

/** A fresh browser context on the Sync page (its own IndexedDB, so earlier failures are not
 *  retried with this case's), watched for secrets; closed after `fn`. */
async function withFreshApp(fn, contextOptions = {}, beforeLoad = async () => {}) {
  const ctx = await browser.newContext(contextOptions);
  try {
    const p = await ctx.newPage();
    watch(p);
    await beforeLoad(p);
    await p.goto(stack.appUrl);
    await p.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });
    return await fn(p);
  } finally {
    await ctx.close();
  }
}

async function problemsText(p) {
  const parts = [];
  for (const id of ['summary', 'errors', 'error']) {
    const l = p.getByTestId(id);
    if (await l.count()) parts.push(await l.first().textContent());
  }
  return parts.join('\n');
}

/** Starts a folder upload on the Sync page and waits for its summary. */
async function upload(p, dir) {
  await p.getByTestId('folder-input').setInputFiles(dir);
  await p.getByTestId('upload').click();
  return waitText(p.getByTestId('summary'), /uploaded/, 90000);
}

/** Retry, until the summary says nothing failed (the summary of the failed run stays until
 *  the retry's own replaces it). */
async function retryUntilDone(p) {
  await p.getByTestId('retry').click();
  return waitText(p.getByTestId('summary'), / 0 failed/, 90000);
}

/** The server holds every file of `files` exactly once, byte-exact, in one encounter. */
async function assertAllOnce(files, label) {
  const blobs = await readContainer(stack.blobService, stack.container);
  const encounters = new Set();
  for (const f of files) {
    const hit = [...blobs.entries()].filter(([k]) => k.startsWith('encounters/') && k.endsWith('/' + f.name));
    assert.equal(hit.length, 1, `${label}: one blob for ${f.name}`);
    assert.ok(hit[0][1].equals(f.bytes), `${label}: ${f.name} byte-exact`);
    encounters.add(hit[0][0].split('/')[1]);
  }
  assert.equal(encounters.size, 1, `${label}: one encounter`);
  const [id] = encounters;
  const detail = await api(`/api/v1/encounters/${id}`).then(r => r.json());
  assert.deepEqual(detail.images.map(i => i.fileName).sort(), files.map(f => f.name).sort(), `${label}: the encounter's images`);
}

const imageCount = async () => (await api('/api/v1/populations').then(r => r.json())).populations[0].counts.images;

const answerCases = [
  { id: 'garbage-json', route: '/api/v1/encounters/find-or-create', kind: 'garbage',
    message: /answered with broken JSON instead of finsync JSON.*check that the server URL in Settings/ },
  { id: 'html-502', route: '/api/v1/upload-sessions', kind: 'html',
    message: /gateway answered 502 with an error page \(“502 Bad Gateway”\).*Retry in a minute/ },
  { id: 'too-large-413', route: '/api/v1/upload-sessions', kind: '413',
    message: /refused as too large \(413.*allow at least 1 MiB/ },
  { id: 'rate-limited-429', route: '/api/v1/upload-sessions/commit', kind: '429',
    message: /try again in 2 s: Retry after that/ },
];

for (const [i, c] of answerCases.entries()) {
  test(`sync: ${c.id} from the server is explained, and Retry finishes`, () => withFreshApp(async p => {
    const { dir, files } = syncFolder(c.id, 2, 200 + i * 10);
    const imagesBefore = await imageCount();
    await setFaults([c.route], [c.kind]);
    let summary;
    try {
      summary = await upload(p, dir);
    } finally {
      await setFaults([], []);
    }
    const text = await problemsText(p);
    await p.screenshot({ path: path.join(out, `5-${c.id}.png`), fullPage: true });
    writeFileSync(path.join(out, `${c.id}.txt`), text);
    assert.match(summary, /^0 uploaded, 0 already on the server, 2 failed/, summary);
    assert.match(text, c.message, text);
    for (const f of files) assert.ok(text.includes(`${f.name}: `), `${c.id}: ${f.name} is named: ${text}`);
    assert.equal(await imageCount(), imagesBefore, `${c.id}: nothing became an image`);
    await retryUntilDone(p);
    assert.equal(await imageCount(), imagesBefore + 2, `${c.id}: both images, once`);
    await assertAllOnce(files, c.id);
  }));
}

test('sync: the API key revoked mid-sync stops with what to do; nothing is lost', () => withFreshApp(async p => {
  const { dir, files } = syncFolder('revoked', 6, 400);
  let revoked = null;
  p.on('response', r => {
    if (!revoked && r.request().method() === 'PUT' && r.status() === 201) {
      revoked = api('/api/v1/test/key-status', { method: 'POST', body: JSON.stringify({ status: 'invalid' }) });
    }
  });
  const summary = await upload(p, dir);
  assert.ok(revoked, 'the key was revoked during the sync');
  assert.equal((await revoked).status, 200);
  const text = await problemsText(p);
  await p.screenshot({ path: path.join(out, '6-key-revoked.png'), fullPage: true });
  writeFileSync(path.join(out, 'revoked.txt'), text);
  assert.match(summary, /Stopped: the API key is missing, unknown or revoked: sign in again .* enter a new API key in Settings, then Retry/, summary);
  assert.doesNotMatch(summary, /^6 uploaded/, summary);
  // The key back (an admin re-enabled it): Retry sends what is missing, nothing twice.
  assert.equal((await api('/api/v1/test/key-status', { method: 'POST', body: JSON.stringify({ status: 'ready' }) })).status, 200);
  await retryUntilDone(p);
  await assertAllOnce(files, 'revoked');
}));

test('sync: an upload SAS that expires mid-upload is renewed without a message', () => withFreshApp(async p => {
  const { dir, files } = syncFolder('sas-expiry', 3, 500);
  let refused = 0;
  await p.route(`${stack.publicBlobUrl}/**`, async (route, request) => {
    if (request.method() === 'PUT' && request.url().includes('sas-expiry-1.jpg') && refused === 0) {
      refused++;
      // What Azure answers for an expired SAS (Azurite's own answer differs; see security.rs).
      await route.fulfill({
        status: 403,
        headers: {
          'content-type': 'application/xml', 'x-ms-error-code': 'AuthenticationFailed',
          'access-control-allow-origin': stack.appUrl, 'access-control-expose-headers': 'x-ms-error-code',
        },
        body: '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code><Message>Server failed to authenticate the request. Signature not valid in the specified time frame</Message></Error>',
      });
      return;
    }
    await route.continue();
  });
  const from = seen.requests.length;
  const summary = await upload(p, dir);
  assert.equal(refused, 1, 'the expired-SAS answer was given');
  assert.match(summary, /^3 uploaded, 0 already on the server, 0 failed/, summary);
  assert.equal(await p.getByTestId('errors').count(), 0, 'no error is shown');
  const calls = seen.requests.slice(from).filter(r => r.url.endsWith('/api/v1/upload-sessions'));
  assert.ok(calls.length >= 2, `a fresh upload session was asked for (${calls.length} calls)`);
  await assertAllOnce(files, 'sas-expiry');
}));

test('sync: an upload SAS that really expired is refused by Azurite (AuthorizationFailure) and renewed', () => withFreshApp(async p => {
  const { dir, files } = syncFolder('sas-azurite', 3, 520);
  // The first sessions' SAS is re-signed (with the emulator's account key) to have expired a
  // minute ago, and its expiresAt says so: Azurite itself refuses the PUT, with its own code.
  const past = new Date(Date.now() - 60_000);
  let expired = 0;
  await p.route('**/api/v1/upload-sessions', async route => {
    const resp = await route.fetch();
    const json = await resp.json();
    if (expired === 0) {
      for (const s of json.sessions) {
        if (!s.uploadUrl) continue;
        s.uploadUrl = expiredSas(s.uploadUrl, past);
        s.expiresAt = past.toISOString();
        expired++;
      }
    }
    await route.fulfill({ response: resp, json });
  });
  const refusals = [];
  p.on('response', r => {
    if (r.request().method() === 'PUT' && r.status() === 403) refusals.push(r.headers()['x-ms-error-code']);
  });
  const from = seen.requests.length;
  const summary = await upload(p, dir);
  assert.equal(expired, 3, 'the first sessions were given an expired SAS');
  assert.ok(refusals.length >= 1, 'Azurite refused a PUT');
  assert.ok(refusals.every(c => c === 'AuthorizationFailure'), `Azurite's own code: ${refusals}`);
  assert.match(summary, /^3 uploaded, 0 already on the server, 0 failed/, summary);
  assert.equal(await p.getByTestId('errors').count(), 0, 'no error is shown');
  const calls = seen.requests.slice(from).filter(r => r.url.endsWith('/api/v1/upload-sessions'));
  assert.ok(calls.length >= 2, `a fresh upload session was asked for (${calls.length} calls)`);
  await assertAllOnce(files, 'sas-azurite');
}));

/** `url` (an upload SAS URL) signed again, with the same permissions, to expire at `expiresOn`. */
function expiredSas(url, expiresOn) {
  const u = new URL(url);
  const [, , container, ...blob] = u.pathname.split('/');
  const sas = generateBlobSASQueryParameters({
    containerName: container, blobName: decodeURIComponent(blob.join('/')),
    permissions: BlobSASPermissions.parse('cw'), startsOn: new Date(expiresOn.getTime() - 3_600_000), expiresOn,
    protocol: SASProtocol.HttpsAndHttp,
  }, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY));
  return `${u.origin}${u.pathname}?${sas}`;
}

test('sync: files deleted or changed after being picked on the Sync page are named; the rest goes on', () => withFreshApp(async p => {
  const { dir, files } = syncFolder('picked', 4, 700);
  const [, gone, changed] = files;
  let touched = false;
  // After the Sync page planned the picked files (their fingerprints were read), before any PUT.
  await p.route('**/api/v1/upload-sessions', async route => {
    if (!touched) {
      touched = true;
      rmSync(path.join(dir, gone.name));
      writeFileSync(path.join(dir, changed.name), goodJpeg(799));
    }
    await route.continue();
  });
  const summary = await upload(p, dir);
  const text = await problemsText(p);
  await p.screenshot({ path: path.join(out, '7-picked-changed.png'), fullPage: true });
  writeFileSync(path.join(out, 'picked-changed.txt'), text);
  assert.ok(touched, 'the files were changed during the sync');
  assert.match(summary, /^2 uploaded, 0 already on the server, 0 failed\. 2 skipped\./, summary);
  assert.match(text, new RegExp(`${gone.name}: .*${gone.name} was deleted since you picked the folder — pick it again`), text);
  assert.match(text, new RegExp(`${changed.name}: .*${changed.name} was changed since you picked the folder — pick it again`), text);
  assert.doesNotMatch(text, /network/i, text);
  await assertAllOnce(files.filter(f => f !== gone && f !== changed), 'picked');
}));

test('sync: a browser clock days off changes nothing', () => withFreshApp(async p => {
  assert.ok(await p.evaluate(() => Date.now()) > Date.now() + 2 * 24 * 3600 * 1000, 'the page clock is skewed');
  const { dir, files } = syncFolder('clock-skew', 2, 600);
  const summary = await upload(p, dir);
  assert.match(summary, /^2 uploaded, 0 already on the server, 0 failed/, summary);
  await assertAllOnce(files, 'clock-skew');
}, {}, p => p.clock.install({ time: new Date(Date.now() + 3 * 24 * 3600 * 1000) })));

// ---------------------------------------------------------------------------------------------
// Manifest and sync: a broken rule, then files deleted, changed or undecodable after the scan.

const tripRoot = path.join(out, 'Trip');
const tripDir = path.join(tripRoot, '2024-07-15_Haro Strait');
const tripFiles = {
  'A.jpg': goodJpeg(101), 'B-deleted.jpg': goodJpeg(102), 'C-changed.jpg': goodJpeg(103), 'D.jpg': goodJpeg(104),
  'E-half.jpg': goodJpeg(105).subarray(0, 700),
};

test('manifest + sync: a broken rule is named; deleted, changed and undecodable files fail alone', async () => {
  rmSync(tripRoot, { recursive: true, force: true });
  mkdirSync(tripDir, { recursive: true });
  for (const [n, b] of Object.entries(tripFiles)) writeFileSync(path.join(tripDir, n), b);
  const job = await scan(tripRoot, 'Trip');
  await job.getByTestId('new-manifest').click();
  const editor = page.getByTestId('manifest-editor');
  await editor.waitFor();
  // A regex that does not compile: the message names the field, the source and the pattern.
  const loc = editor.getByTestId('chain-location');
  await loc.getByTestId('add-source').click();
  const link = loc.getByTestId('source-row').last();
  await link.getByTestId('source-kind').selectOption('folderName');
  await link.getByTestId('source-depth').fill('1');
  await link.getByTestId('source-depth').press('Tab');
  await link.getByTestId('source-regex').fill('^(\\d{4}');
  await link.getByTestId('source-regex').press('Tab');
  await editor.getByTestId('preview-button').click();
  await waitText(editor.getByTestId('manifest-problem'), /location.*source \d+: the pattern `\^\(\\d\{4\}` is not a valid regex/i);
  await shot('3-bad-regex');
  await link.getByTestId('source-regex').fill('^\\d{4}-\\d{2}-\\d{2}_(.+)$');
  await link.getByTestId('source-regex').press('Tab');
  await editor.getByTestId('preview-button').click();
  await waitText(page.getByTestId('preview-summary'), /^5 images → 1 encounter/);
  const ann = editor.getByTestId('photographer').filter({ hasText: 'Ann Observer' });
  await ann.getByTestId('phot-status').selectOption('create');
  await waitText(editor.getByTestId('phot-summary'), /Every name is resolved/);
  await editor.getByTestId('save-manifest').click();
  await waitText(editor.getByTestId('manifest-message'), /^Saved as v2/);
  const v2 = editor.locator('[data-testid=version][data-version="2"]');
  await v2.getByTestId('approve-version').click();
  await waitText(v2.getByTestId('version-status'), /Approved/);
  await v2.getByTestId('materialize').click();
  const review = page.getByTestId('review-page');
  await review.getByTestId('review-row').first().waitFor({ timeout: 15000 });
  await review.getByTestId('bulk-license').selectOption('publicAttribution');
  await waitText(review.getByTestId('review-message'), /License .* set on 1 encounter/);
  await review.getByTestId('approve-all').click();
  await waitText(review.getByTestId('filter-approved'), /Approved \(1\)/);

  // Between scan and sync: one file deleted, one rewritten with other bytes.
  rmSync(path.join(tripDir, 'B-deleted.jpg'));
  writeFileSync(path.join(tripDir, 'C-changed.jpg'), goodJpeg(999));
  await page.getByTestId('nav-sync').click();
  const row = page.getByTestId('manifest-row').filter({ hasText: 'Trip' }).first();
  await row.getByTestId('sync-manifest').click();
  const summary = await waitText(page.getByTestId('summary'), /uploaded/, 60000);
  await page.getByTestId('errors').waitFor();
  const errors = await page.getByTestId('errors').textContent();
  await shot('4-trip-synced');
  writeFileSync(path.join(out, 'trip-messages.txt'), `${summary}\n${errors}\n`);
  assert.match(summary, /^2 uploaded, 0 already on the server, 1 failed\. 2 skipped\./, summary);
  assert.match(errors, /E-half\.jpg: not a readable JPEG.*copy it again from the camera card/, errors);
  assert.doesNotMatch(errors, /E-half\.jpg: E-half\.jpg/, 'the file name is not repeated');
  // Deleted and changed files are skipped by the sync (the summary) but listed to act on.
  assert.match(errors, /B-deleted\.jpg: Trip\/2024-07-15_Haro Strait\/B-deleted\.jpg is not in the folder any more \(moved, renamed or deleted\): put it back, or run discovery again/, errors);
  assert.match(errors, /C-changed\.jpg: Trip\/2024-07-15_Haro Strait\/C-changed\.jpg changed since the scan .*: run discovery again/, errors);
  // The server: exactly A and D, byte-exact; nothing of B, C or E became an image.
  const pops = await api('/api/v1/populations').then(r => r.json());
  const encs = [];
  for (let id = 1; id <= pops.populations[0].counts.encounters; id++) {
    const e = await api(`/api/v1/encounters/${id}`).then(r => r.json());
    if (e.locationName === 'Haro Strait') encs.push(e);
  }
  assert.equal(encs.length, 1, 'one encounter for the trip');
  assert.deepEqual(encs[0].images.map(i => i.fileName).sort(), ['A.jpg', 'D.jpg']);
  const blobs = await readContainer(stack.blobService, stack.container);
  for (const n of ['A.jpg', 'D.jpg']) {
    const hit = [...blobs.entries()].filter(([k]) => k.startsWith(`encounters/${encs[0].id}/`) && k.endsWith('/' + n));
    assert.equal(hit.length, 1, n);
    assert.ok(hit[0][1].equals(tripFiles[n]), `${n} byte-exact`);
  }
});

// ---------------------------------------------------------------------------------------------
// Secrets: over everything above.

test('no API key or SAS signature in API URLs, the console, the activity export or the audit log', async () => {
  const key = stack.apiKey;
  const blobOrigin = new URL(stack.publicBlobUrl).origin;
  const sigs = new Set();
  for (const r of seen.requests) {
    assert.ok(!r.url.includes(key), `the API key is in a URL: ${r.method} ${r.url}`);
    const u = new URL(r.url);
    const sig = u.searchParams.get('sig');
    if (sig) {
      // A SAS travels only to the blob service, on the upload itself.
      assert.equal(u.origin, blobOrigin, `a SAS sent elsewhere: ${r.url}`);
      assert.ok(['PUT', 'OPTIONS'].includes(r.method), `${r.method} with a SAS`);
      sigs.add(sig);
    }
  }
  assert.ok(sigs.size >= 10, `uploads were seen (${sigs.size} signatures)`);
  const leaks = (text, where) => {
    assert.ok(!text.includes(key), `the API key in ${where}`);
    assert.ok(!/[?&]sig=/.test(text), `a sig= parameter in ${where}`);
    for (const s of sigs) {
      assert.ok(!text.includes(s) && !text.includes(encodeURIComponent(s)), `a SAS signature in ${where}`);
    }
  };
  leaks(seen.console.join('\n'), 'the console');
  await page.getByTestId('nav-activity').click();
  await page.getByTestId('activity-table').waitFor();
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export JSON' }).click()]);
  const exported = readFileSync(await download.path(), 'utf8');
  assert.ok(JSON.parse(exported).length > 0, 'the activity log has entries');
  leaks(exported, 'the activity export');
  const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
  leaks(readFileSync(await csv.path(), 'utf8'), 'the activity CSV');
  let audit = [];
  let before = null;
  do {
    const pageOf = await api(`/api/v1/audit?limit=200${before ? `&before=${before}` : ''}`).then(r => r.json());
    audit = audit.concat(pageOf.entries);
    before = pageOf.nextBefore;
  } while (before);
  assert.ok(audit.length > 10);
  leaks(JSON.stringify(audit), 'the audit log');
  // The server's own log: the key only in the demo banner it prints at start.
  const serverLog = stack.logs().split('\n').filter(l => !/API key: fsk_/.test(l)).join('\n');
  leaks(serverLog, 'the server log');
});
