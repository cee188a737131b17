// Sync through faults: 20 % of blob requests answer 502/503 or reset (the fault proxy in
// front of Azurite) and 20 % of sync API calls answer 502/503 (the server's test mode). The
// engine's retries absorb most; what exhausts its retries is shown as actionable and Retry
// finishes the job. At the end the server and Azurite hold every image exactly once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startStack, launchBrowser, outDir, readContainer } from './support/env.mjs';
import { makeJpeg } from './support/jpeg.mjs';

let stack, browser;
const out = outDir('faults');

before(async () => {
  stack = await startStack({ blobFaults: { rate: 0.2, kinds: '502,503,reset', seed: 8 }, testMode: true });
  browser = await launchBrowser();
});
after(async () => { await browser?.close(); await stack?.stop(); });

test('a sync with 20 % injected faults ends with exactly one copy of everything', async () => {
  const folder = path.join(out, 'Stormy day');
  mkdirSync(folder, { recursive: true });
  const files = [];
  for (let i = 0; i < 30; i++) {
    const bytes = makeJpeg({ seed: 900 + i, width: 320, height: 240 });
    const name = `F_${i}.jpg`;
    writeFileSync(path.join(folder, name), bytes);
    files.push({ name, bytes });
  }
  const faults = await fetch(`${stack.appUrl}/api/v1/test/faults`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ routes: ['/api/v1/encounters/*', '/api/v1/upload-sessions*'], rate: 0.2, kinds: ['502', '503'], seed: 11 }),
  });
  assert.equal(faults.status, 200, await faults.text());

  const context = await browser.newContext();
  const page = await context.newPage();
  let injected = 0;
  page.on('response', r => { if (r.status() >= 500) injected++; });
  page.on('requestfailed', () => { injected++; });
  await page.goto(stack.appUrl);
  await page.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });
  await page.getByTestId('folder-input').setInputFiles(folder);
  await page.getByTestId('upload').click();
  await page.getByTestId('summary').waitFor({ timeout: 120000 });
  let rounds = 1;
  // What exhausted its retries is actionable; Retry until done (bounded).
  while (!/ 0 failed/.test(await page.getByTestId('summary').textContent()) && rounds < 6) {
    assert.ok(await page.getByTestId('retry').isVisible(), 'failed images offer Retry');
    await page.getByTestId('retry').click();
    await page.getByTestId('summary').waitFor({ state: 'detached', timeout: 10000 }).catch(() => {});
    await page.getByTestId('summary').waitFor({ timeout: 120000 });
    rounds++;
  }
  await page.screenshot({ path: path.join(out, 'after-faults.png'), fullPage: true });
  console.log(`faults: ${injected} failed requests seen by the page; ${rounds} sync run(s)`);
  assert.match(await page.getByTestId('summary').textContent(), / 0 failed/);
  assert.ok(injected >= 5, `faults were injected (${injected})`);

  // Faults off for the checks themselves.
  await fetch(`${stack.appUrl}/api/v1/test/faults`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ routes: [], rate: 0, kinds: [], seed: 0 }),
  });
  const blobs = await readContainer(stack.blobService, stack.container);
  for (const f of files) {
    const match = [...blobs.entries()].filter(([n]) => n.endsWith('/' + f.name) && n.startsWith('encounters/'));
    assert.equal(match.length, 1, `one committed blob for ${f.name}`);
    assert.ok(match[0][1].equals(f.bytes), `${f.name} is byte-exact`);
  }
  const detail = await fetch(`${stack.appUrl}/api/v1/encounters/1`, { headers: { Authorization: `Bearer ${stack.apiKey}` } }).then(r => r.json());
  assert.equal(detail.images.length, 30);
  assert.equal(new Set(detail.images.map(i => i.fileName)).size, 30, 'no duplicate file items');
  const pops = await fetch(`${stack.appUrl}/api/v1/populations`, { headers: { Authorization: `Bearer ${stack.apiKey}` } }).then(r => r.json());
  const counts = pops.populations[0].counts;
  assert.equal(counts.encounters, 1, 'one encounter despite retried find-or-create calls');
  assert.equal(counts.images, 30);
  await context.close();
});
