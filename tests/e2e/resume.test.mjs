// Resume after the browser is closed mid-sync: a persistent Chromium profile is closed while
// uploads are in flight, reopened, the folder selected again, and the sync finished. The
// server and Azurite must then hold every image exactly once, byte-exact, and the bytes sent
// twice must be at most what was in flight when the browser died.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startStack, outDir, readContainer, CHROMIUM_ARGS } from './support/env.mjs';
import { makeJpeg, makeBigJpeg } from './support/jpeg.mjs';

let stack;
const out = outDir('resume');

before(async () => { stack = await startStack(); });
after(async () => { await stack?.stop(); });

function launch(profile) {
  return chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS,
  });
}

async function open(context) {
  const page = context.pages()[0] || await context.newPage();
  await page.goto(stack.appUrl);
  await page.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });
  return page;
}

function countPuts(page, sink) {
  page.on('request', r => {
    if (r.method() === 'PUT' && r.url().startsWith(stack.blobUrl)) sink.push(r.url());
  });
}

async function encounterImages(id) {
  const r = await fetch(`${stack.appUrl}/api/v1/encounters/${id}`, { headers: { Authorization: `Bearer ${stack.apiKey}` } });
  return (await r.json()).images;
}

test('closing the browser mid-sync loses nothing and duplicates nothing', async () => {
  const folder = path.join(out, 'Survey A');
  mkdirSync(folder, { recursive: true });
  const files = [];
  for (let i = 0; i < 24; i++) {
    const bytes = makeJpeg({ seed: 100 + i, width: 400, height: 300, quality: 95,
      exif: { date: '2024:08:01 09:00:00', artist: 'A. Observer' } });
    const name = `DSC_${String(i).padStart(4, '0')}.jpg`;
    writeFileSync(path.join(folder, name), bytes);
    files.push({ name, bytes });
  }
  const profile = mkdtempSync(path.join(os.tmpdir(), 'finsync-profile-'));

  // First visit: start, and close the whole browser after a few images are through.
  let ctx = await launch(profile);
  let page = await open(ctx);
  const first = [];
  countPuts(page, first);
  let finished = 0;
  page.on('requestfinished', r => { if (r.method() === 'PUT' && r.url().startsWith(stack.blobUrl)) finished++; });
  await page.getByTestId('folder-input').setInputFiles(folder);
  await page.getByTestId('upload').click();
  const deadline = Date.now() + 30000;
  while (finished < 6 && Date.now() < deadline) await new Promise(r => setTimeout(r, 5));
  assert.ok(finished >= 6, 'some uploads finished before the kill');
  await ctx.close();

  // Second visit: the interruption is shown; selecting the folder again and Upload resumes.
  ctx = await launch(profile);
  page = await open(ctx);
  await page.getByTestId('resume-banner').waitFor();
  assert.match(await page.getByTestId('resume-banner').textContent(), /of 24 images are not on the server yet/);
  await page.screenshot({ path: path.join(out, 'interrupted.png'), fullPage: true });
  const second = [];
  countPuts(page, second);
  await page.getByTestId('folder-input').setInputFiles(folder);
  await page.getByTestId('upload').click();
  await page.getByTestId('summary').waitFor({ timeout: 60000 });
  assert.match(await page.getByTestId('summary').textContent(), / 0 failed/);
  assert.equal(await page.getByTestId('resume-banner').count(), 0);
  await ctx.close();

  // Exactly one copy of everything, byte-exact.
  const blobs = await readContainer(stack.blobService, stack.container);
  for (const f of files) {
    const match = [...blobs.entries()].filter(([n]) => n.endsWith('/' + f.name));
    assert.equal(match.length, 1, `one blob for ${f.name}`);
    assert.ok(match[0][1].equals(f.bytes), `${f.name} is byte-exact`);
  }
  const images = await encounterImages(1);
  assert.equal(images.length, 24);
  assert.equal(new Set(images.map(i => i.fileName)).size, 24, 'no duplicate file items');
  // Re-sent: at most the PUTs that were in flight when the browser died (concurrency 2).
  const resent = first.length + second.length - 24;
  console.log(`resume: ${first.length} PUTs before the kill, ${second.length} after; ${resent} re-sent`);
  assert.ok(resent <= 2, `re-sent ${resent} files, more than the 2 in flight`);
});

test('a big file goes as 8 MiB blocks and a resume sends only the missing blocks', async () => {
  const folder = path.join(out, 'Big');
  mkdirSync(folder, { recursive: true });
  const bytes = makeBigJpeg(40 * 1000 * 1000);
  writeFileSync(path.join(folder, 'PANO_0001.jpg'), bytes);
  const profile = mkdtempSync(path.join(os.tmpdir(), 'finsync-profile-'));

  let ctx = await launch(profile);
  let page = await open(ctx);
  const first = [];
  let blocksDone = 0;
  countPuts(page, first);
  page.on('requestfinished', r => { if (r.url().includes('comp=block&')) blocksDone++; });
  await page.getByTestId('folder-input').setInputFiles(folder);
  await page.getByTestId('upload').click();
  const deadline = Date.now() + 60000;
  while (blocksDone < 2 && Date.now() < deadline) await new Promise(r => setTimeout(r, 5));
  assert.ok(blocksDone >= 2);
  await ctx.close();

  ctx = await launch(profile);
  page = await open(ctx);
  const second = [];
  countPuts(page, second);
  await page.getByTestId('folder-input').setInputFiles(folder);
  await page.getByTestId('upload').click();
  await page.getByTestId('summary').waitFor({ timeout: 120000 });
  assert.match(await page.getByTestId('summary').textContent(), /^1 uploaded, 0 already on the server, 0 failed/);
  await ctx.close();

  const blockPuts = [...first, ...second].filter(u => u.includes('comp=block&'));
  const lists = second.filter(u => u.includes('comp=blocklist'));
  assert.equal(lists.length, 1, 'one Put Block List');
  assert.ok(second.every(u => u.includes('comp=block')), 'no whole-file PUT for a big file');
  const blocks = Math.ceil(bytes.length / (8 * 1024 * 1024));
  console.log(`blocks: ${blocks} in the file, ${first.filter(u => u.includes('comp=block&')).length} sent before the kill, ${second.filter(u => u.includes('comp=block&')).length} after`);
  assert.ok(blockPuts.length <= blocks + 2, `sent ${blockPuts.length} block PUTs for ${blocks} blocks`);
  const blobs = await readContainer(stack.blobService, stack.container);
  const match = [...blobs.entries()].filter(([n]) => n.endsWith('/PANO_0001.jpg'));
  assert.equal(match.length, 1);
  assert.ok(match[0][1].equals(bytes), 'the block blob is byte-exact');
});
