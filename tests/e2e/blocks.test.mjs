// A big file's blocks end to end (real app, reference server, Azurite): each Put Block carries
// the Content-MD5 of its own bytes, hashed in the block hasher's worker (block-md5.js, under
// the served CSP); where that worker cannot load, the page hashes the blocks itself with the
// same result; and a block the storage service refuses for a wrong Content-MD5 is sent again.
// Azurite checks every Content-MD5 it is given, so a wrong one cannot pass unnoticed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { startStack, launchBrowser, outDir, readContainer } from './support/env.mjs';
import { makeBigJpeg } from './support/jpeg.mjs';

const BLOCK = 8 * 1024 * 1024;
let stack, browser;
const out = outDir('blocks');

before(async () => {
  stack = await startStack();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

/** A folder `name` holding one big JPEG (over the 32 MiB block threshold) of `bytes` bytes. */
function bigFolder(name, bytes, seed) {
  const folder = path.join(out, name);
  mkdirSync(folder, { recursive: true });
  const data = makeBigJpeg(bytes, seed);
  writeFileSync(path.join(folder, 'PANO_0001.jpg'), data);
  return { folder, data, md5s: blockMd5s(data) };
}

function blockMd5s(data) {
  const md5s = [];
  for (let at = 0; at < data.length; at += BLOCK) {
    md5s.push(createHash('md5').update(data.subarray(at, at + BLOCK)).digest('base64'));
  }
  return md5s;
}

/** The block index of a Put Block URL (its ID is base64 of `finsync-block-NNNNNN`). */
function blockIndex(url) {
  const id = decodeURIComponent(new URL(url).searchParams.get('blockid'));
  const m = /^finsync-block-(\d{6})$/.exec(Buffer.from(id, 'base64').toString());
  assert.ok(m, `a block ID of finsync's form: ${id}`);
  return Number(m[1]);
}

/** Uploads `folder` in a fresh context and records every Put Block as [index, Content-MD5, status]. */
async function upload(folder, { route } = {}) {
  const context = await browser.newContext();
  if (route) await route(context);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', e => errors.push(String(e)));
  const workers = [];
  page.on('worker', w => workers.push(new URL(w.url()).pathname));
  const blocks = [];
  page.on('requestfinished', async r => {
    if (r.method() !== 'PUT' || !r.url().includes('comp=block&')) return;
    const response = await r.response();
    blocks.push([blockIndex(r.url()), (await r.allHeaders())['content-md5'], response?.status()]);
  });
  page.on('requestfailed', r => {
    if (r.url().includes('comp=block&')) blocks.push([blockIndex(r.url()), null, 'failed']);
  });
  await page.goto(stack.appUrl);
  await page.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });
  await page.getByTestId('folder-input').setInputFiles(folder);
  await page.getByTestId('upload').click();
  await page.getByTestId('summary').waitFor({ timeout: 120000 });
  const summary = await page.getByTestId('summary').textContent();
  await context.close();
  return { summary, blocks, workers, errors };
}

/** Every stored blob named PANO_0001.jpg (one per test's folder: each has other bytes). */
async function storedBlobs() {
  const blobs = await readContainer(stack.blobService, stack.container);
  return [...blobs.entries()].filter(([n]) => n.endsWith('/PANO_0001.jpg')).map(([, b]) => b);
}

/** One Put Block per block, each staged (201) with the MD5 of its own bytes, and a stored blob
 *  byte-equal to `data`. */
async function assertEveryBlockSent(blocks, md5s, data) {
  assert.equal(blocks.length, md5s.length, 'one Put Block per block');
  for (const [i, md5, status] of blocks) {
    assert.equal(status, 201, `block ${i} staged`);
    assert.equal(md5, md5s[i], `block ${i}'s Content-MD5`);
  }
  assert.ok((await storedBlobs()).some(b => b.equals(data)), 'the block blob is byte-exact');
}

test('each Put Block carries the MD5 of its own bytes, hashed in the block-md5.js worker', async () => {
  const { folder, data, md5s } = bigFolder('Worker 2024-08-01', 40 * 1000 * 1000, 11);
  const { summary, blocks, workers, errors } = await upload(folder);
  assert.match(summary, /^1 uploaded, 0 already on the server, 0 failed/);
  assert.deepEqual(errors, []);
  assert.ok(workers.includes('/block-md5.js'), `the blocks were hashed in the worker (workers: ${workers})`);
  await assertEveryBlockSent(blocks, md5s, data);
});

test('where block-md5.js cannot load, the page hashes the blocks with the same result', async () => {
  const { folder, data, md5s } = bigFolder('No worker 2024-08-02', 34 * 1000 * 1000, 12);
  let refused = 0;
  const { summary, blocks } = await upload(folder, {
    route: (context) => context.route('**/block-md5.js', r => { refused++; return r.fulfill({ status: 404, body: 'gone' }); }),
  });
  assert.match(summary, /^1 uploaded, 0 already on the server, 0 failed/);
  assert.ok(refused >= 1, 'the page asked for the worker script and was refused');
  await assertEveryBlockSent(blocks, md5s, data);
});

test('a block refused for a wrong Content-MD5 is sent again, and the blob is intact', async () => {
  const { folder, data, md5s } = bigFolder('Corrupted 2024-08-03', 34 * 1000 * 1000, 13);
  let spoiled = null;
  const { summary, blocks } = await upload(folder, {
    // The first Put Block leaves with another block's MD5, as if its bytes had changed on the way.
    route: (context) => context.route(u => u.href.includes('comp=block&'), r => {
      if (spoiled !== null) return r.continue();
      spoiled = blockIndex(r.request().url());
      const wrong = md5s[(spoiled + 1) % md5s.length];
      return r.continue({ headers: { ...r.request().headers(), 'content-md5': wrong } });
    }),
  });
  assert.match(summary, /^1 uploaded, 0 already on the server, 0 failed/);
  assert.notEqual(spoiled, null);
  const tries = blocks.filter(([i]) => i === spoiled);
  assert.equal(tries.length, 2, `block ${spoiled} sent twice: ${JSON.stringify(tries)}`);
  assert.equal(tries.filter(([, , s]) => s === 400).length, 1, 'the service refused the spoiled one');
  assert.equal(tries.filter(([, , s]) => s === 201).length, 1, 'and staged the retry');
  assert.equal(blocks.filter(([i]) => i !== spoiled).length, md5s.length - 1, 'no other block sent twice');
  assert.ok((await storedBlobs()).some(b => b.equals(data)), 'the block blob is byte-exact');
});
