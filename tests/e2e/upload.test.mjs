// The walking skeleton end to end: real app (release bundle) in headless Chromium, real
// reference server, real Azurite. A folder of real JPEGs goes in through the webkitdirectory
// input; every blob in Azurite must equal its source file byte for byte; a second run
// (after a reload, which must show the stored state) uploads nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startStack, launchBrowser, outDir, readContainer } from './support/env.mjs';
import { makeJpeg } from './support/jpeg.mjs';

let stack, browser;
const out = outDir('upload');
const folder = path.join(out, 'Haro Strait 2024-07-15');
const files = [];

before(async () => {
  mkdirSync(path.join(folder, 'card 2'), { recursive: true });
  mkdirSync(path.join(folder, '.thumbnails'), { recursive: true });
  for (let i = 0; i < 7; i++) {
    const rel = i < 5 ? `IMG_${1000 + i}.JPG` : `card 2/ü-🐋 ${i}.jpeg`;
    const bytes = makeJpeg({ width: 200 + i * 10, height: 150, seed: i + 1, exif: {
      date: `2024:07:15 10:${10 + i}:00`, offset: '-07:00', lat: 48.5 + i / 1000, lon: -123.1, artist: 'Jane Smith', model: 'Canon EOS R5' } });
    writeFileSync(path.join(folder, rel), bytes);
    files.push({ rel, name: path.basename(rel), bytes });
  }
  writeFileSync(path.join(folder, 'notes.txt'), 'not an image');
  writeFileSync(path.join(folder, '.DS_Store'), 'hidden');
  writeFileSync(path.join(folder, '.thumbnails', 'x.jpg'), makeJpeg({ seed: 99 }));
  stack = await startStack();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

async function openApp(context) {
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', m => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', e => consoleErrors.push(String(e)));
  await page.goto(stack.appUrl);
  await page.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });
  return { page, consoleErrors };
}

test('uploads a folder once, byte-exact, and never twice', async () => {
  const context = await browser.newContext();
  const { page, consoleErrors } = await openApp(context);

  // The fallback input is always there; it is what Firefox and Safari users get.
  await page.getByTestId('folder-input').setInputFiles(folder);
  await assert.doesNotReject(page.getByTestId('picked-summary').filter({ hasText: '7 images' }).waitFor());
  const summaryText = await page.getByTestId('picked-summary').textContent();
  assert.match(summaryText, /skipped 2 hidden\/system, 0 RAW, 1 other/);

  const puts = [];
  page.on('request', r => { if (r.method() === 'PUT' && r.url().startsWith(stack.blobUrl)) puts.push(r.url()); });
  await page.getByTestId('upload').click();
  await page.getByTestId('summary').waitFor({ timeout: 60000 });
  assert.equal(await page.getByTestId('summary').textContent().then(t => t.split('.')[0]), '7 uploaded, 0 already on the server, 0 failed');
  assert.equal(puts.length, 7, 'one PUT per image');
  assert.equal(await page.getByTestId('file-status').filter({ hasText: 'Complete' }).count(), 7);
  await page.screenshot({ path: path.join(out, 'after-upload.png'), fullPage: true });

  // The summary links to the encounter's page on the server: it opens, names the encounter and
  // lists every image (a thumbnail, or a placeholder while the variants are being made).
  const link = page.getByRole('link', { name: 'View the encounter on the server' });
  const href = await link.getAttribute('href');
  assert.match(href, /\/encounters\/\d+$/);
  const [encounterPage] = await Promise.all([context.waitForEvent('page'), link.click()]);
  await encounterPage.waitForLoadState();
  assert.match(await encounterPage.locator('h1').textContent(), /^Encounter \d+$/);
  assert.equal(await encounterPage.locator('li').count(), 7, 'one list entry per image on the encounter page');
  for (const f of files) {
    assert.equal(await encounterPage.locator('li').filter({ hasText: f.name }).count(), 1, `${f.name} on the encounter page`);
  }
  await encounterPage.close();

  // What Azurite holds is exactly the source files.
  const blobs = await readContainer(stack.blobService, stack.container);
  assert.equal(blobs.size, 7, `blobs: ${[...blobs.keys()].join(', ')}`);
  for (const f of files) {
    const match = [...blobs.entries()].filter(([name]) => name.endsWith('/' + f.name));
    assert.equal(match.length, 1, `exactly one blob for ${f.rel}`);
    assert.ok(match[0][1].equals(f.bytes), `${f.rel}: blob bytes differ from the file`);
  }

  // Reload: the stored state is shown without picking anything (the card's image statuses,
  // loaded when opened).
  await page.reload();
  await page.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor();
  await page.getByTestId('image-status-toggle').click();
  await page.getByTestId('encounter-toggle').click();
  await page.getByTestId('file-status').first().waitFor();
  assert.equal(await page.getByTestId('file-status').filter({ hasText: 'Complete' }).count(), 7);

  // A second Upload of the same folder sends nothing.
  puts.length = 0;
  page.on('request', r => { if (r.method() === 'PUT' && r.url().startsWith(stack.blobUrl)) puts.push(r.url()); });
  await page.getByTestId('folder-input').setInputFiles(folder);
  await page.getByTestId('upload').click();
  await page.getByTestId('phase').filter({ hasText: 'Nothing to upload' }).waitFor({ timeout: 30000 });
  assert.match(await page.getByTestId('summary').textContent(), /^0 uploaded, 7 already on the server, 0 failed/);
  assert.equal(puts.length, 0, 'second run must not PUT');
  assert.equal((await readContainer(stack.blobService, stack.container)).size, 7);
  await page.screenshot({ path: path.join(out, 'second-run.png'), fullPage: true });
  assert.deepEqual(consoleErrors, []);
  await context.close();
});

test('a second browser (fresh IndexedDB) gets Complete from the server and uploads nothing', async () => {
  const context = await browser.newContext();
  const { page } = await openApp(context);
  let puts = 0;
  page.on('request', r => { if (r.method() === 'PUT' && r.url().startsWith(stack.blobUrl)) puts++; });
  await page.getByTestId('folder-input').setInputFiles(folder);
  await page.getByTestId('upload').click();
  await page.getByTestId('summary').waitFor({ timeout: 60000 });
  assert.match(await page.getByTestId('summary').textContent(), /^0 uploaded, 7 already on the server, 0 failed/);
  assert.equal(puts, 0);
  const server = await fetch(`${stack.appUrl}/api/v1/encounters/1`, { headers: { Authorization: `Bearer ${stack.apiKey}` } }).then(r => r.json());
  assert.equal(server.images.length, 7, 'the server recorded each image once');
  await context.close();
});
