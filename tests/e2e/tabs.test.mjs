// Only one tab drives a sync (Web Locks): a second tab of the same browser that presses
// Upload while the first syncs is told so and sends nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startStack, launchBrowser, outDir } from './support/env.mjs';
import { makeBigJpeg } from './support/jpeg.mjs';

let stack, browser;
const out = outDir('tabs');

before(async () => { stack = await startStack(); browser = await launchBrowser(); });
after(async () => { await browser?.close(); await stack?.stop(); });

test('a second tab cannot start a sync while the first one runs', async () => {
  const folder = path.join(out, 'Two tabs');
  mkdirSync(folder, { recursive: true });
  for (let i = 0; i < 6; i++) writeFileSync(path.join(folder, `T_${i}.jpg`), makeBigJpeg(6 * 1000 * 1000, 60 + i));
  const context = await browser.newContext();
  const open = async () => {
    const p = await context.newPage();
    await p.goto(stack.appUrl);
    await p.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });
    return p;
  };
  const a = await open();
  const b = await open();
  await a.bringToFront();
  await a.getByTestId('folder-input').setInputFiles(folder);
  await a.getByTestId('upload').click();
  await a.getByTestId('pause').waitFor();
  let bPuts = 0;
  b.on('request', r => { if (r.method() === 'PUT') bPuts++; });
  await b.bringToFront();
  await b.getByTestId('folder-input').setInputFiles(folder);
  await b.getByTestId('upload').click();
  await b.getByTestId('app-error').filter({ hasText: 'Another tab of finsync is syncing' }).waitFor({ timeout: 10000 });
  await a.getByTestId('summary').waitFor({ timeout: 60000 });
  assert.match(await a.getByTestId('summary').textContent(), /^6 uploaded/);
  assert.equal(bPuts, 0, 'the second tab sent nothing');
  await context.close();
});
