// Going offline mid-sync pauses the sync instead of failing images; coming back online
// resumes it by itself, and everything arrives exactly once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startStack, launchBrowser, outDir, readContainer } from './support/env.mjs';
import { makeJpeg } from './support/jpeg.mjs';

let stack, browser;
const out = outDir('offline');

before(async () => { stack = await startStack(); browser = await launchBrowser(); });
after(async () => { await browser?.close(); await stack?.stop(); });

test('offline pauses the sync and online resumes it without failures', async () => {
  const folder = path.join(out, 'Offline survey');
  mkdirSync(folder, { recursive: true });
  const files = [];
  for (let i = 0; i < 20; i++) {
    const bytes = makeJpeg({ seed: 500 + i, width: 480, height: 360, quality: 95 });
    const name = `OFF_${i}.jpg`;
    writeFileSync(path.join(folder, name), bytes);
    files.push({ name, bytes });
  }
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(stack.appUrl);
  await page.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });
  let done = 0;
  page.on('requestfinished', r => { if (r.method() === 'PUT') done++; });
  await page.getByTestId('folder-input').setInputFiles(folder);
  await page.getByTestId('upload').click();
  const until = Date.now() + 30000;
  while (done < 4 && Date.now() < until) await new Promise(r => setTimeout(r, 5));
  await context.setOffline(true);
  await page.getByTestId('progress-text').filter({ hasText: 'offline' }).waitFor({ timeout: 15000 });
  await page.screenshot({ path: path.join(out, 'offline.png'), fullPage: true });
  // While offline nothing fails: wait a while and check no image is in Error.
  await new Promise(r => setTimeout(r, 3000));
  assert.equal(await page.getByTestId('file-status').filter({ hasText: 'Error' }).count(), 0);
  await context.setOffline(false);
  await page.getByTestId('summary').waitFor({ timeout: 60000 });
  assert.match(await page.getByTestId('summary').textContent(), /^20 uploaded, 0 already on the server, 0 failed/);
  const blobs = await readContainer(stack.blobService, stack.container);
  for (const f of files) {
    const match = [...blobs.entries()].filter(([n]) => n.endsWith('/' + f.name));
    assert.equal(match.length, 1, f.name);
    assert.ok(match[0][1].equals(f.bytes), `${f.name} byte-exact`);
  }
  await context.close();
});
