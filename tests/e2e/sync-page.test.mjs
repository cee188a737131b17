// The Sync page's card through the real UI (release bundle, reference server, Azurite):
//  * counts from the stored aggregates stay right after a partial sync, a reload, a Retry and
//    a Reset (and a Sync after the Reset);
//  * a Partial encounter (the server refuses an undecodable image at commit) is shown as
//    such with what to do; its error can be copied (the clipboard is read back);
//  * the per-image statuses on the card open with the keyboard (aria-expanded) and load
//    lazily;
//  * two folders of one name (every camera card's DCIM) are two encounters, both kept;
//  * a Conflict encounter left by an older build (schema v4 data, upgraded by the app) is
//    shown with what to do, and Sync resolves it against the server's existing encounter.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, rmSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { startStack, launchBrowser, outDir } from './support/env.mjs';
import { makeJpeg } from './support/jpeg.mjs';
import { leaveApp, readStores, writeV4 } from './support/idb.mjs';

let stack, browser;
const out = outDir('sync-page');

before(async () => { stack = await startStack(); browser = await launchBrowser(); });
after(async () => { await browser?.close(); await stack?.stop(); });

function folderOf(name, n) {
  const dir = path.join(out, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < n; i++) writeFileSync(path.join(dir, `P_${i}.jpg`), makeJpeg({ seed: name.length * 100 + i, width: 160, height: 120 }));
  return dir;
}

async function openApp(context) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', e => errors.push(String(e)));
  await page.goto(stack.appUrl);
  await page.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });
  return { page, errors };
}

/** Waits until the card shows these counts (they come from IndexedDB, after each write). */
async function expectCounts(page, [encPending, encSynced, imgPending, imgSynced], what) {
  const want = { 'count-encounters-pending': encPending, 'count-encounters-synced': encSynced, 'count-images-pending': imgPending, 'count-images-synced': imgSynced };
  try {
    await page.waitForFunction((w) => Object.entries(w).every(([id, n]) => document.querySelector(`[data-testid=${id}]`)?.textContent.trim() === String(n)), want, { timeout: 15000 });
  } catch {
    const got = await page.getByTestId('counts').textContent();
    assert.fail(`${what}: counts ${got}, expected ${JSON.stringify(want)}`);
  }
}

async function upload(page, folder) {
  await page.getByTestId('folder-input').setInputFiles(folder);
  await page.getByTestId('upload').click();
  await page.getByTestId('summary').waitFor({ timeout: 60000 });
  return (await page.getByTestId('summary').textContent()).split('.')[0];
}

test('partial sync, copy errors, per-image list, Retry and Reset keep the counts right', async () => {
  const folder = folderOf('Partial cove', 3);
  writeFileSync(path.join(folder, 'broken.jpg'), Buffer.from('this is not a JPEG at all, only text\n'.repeat(40)));
  const context = await browser.newContext({ permissions: ['clipboard-read', 'clipboard-write'] });
  const { page, errors } = await openApp(context);
  await expectCounts(page, [0, 0, 0, 0], 'empty library');

  assert.equal(await upload(page, folder), '3 uploaded, 0 already on the server, 1 failed');
  await expectCounts(page, [1, 0, 1, 3], 'after the partial sync');

  // Partial, with what to do.
  const state = page.getByTestId('encounter-state');
  await state.first().waitFor();
  assert.equal(await state.count(), 1);
  assert.equal(await state.getAttribute('data-state'), 'partial');
  assert.match(await state.textContent(), /Partial.*Partial cove.*3 of 4 images on the server.*Press Retry to send only the failed ones/s);
  assert.match(await page.getByTestId('error-group').textContent(), /broken\.jpg.*not a readable JPEG/s);

  // Copy errors: grouped by encounter, image name and message, no key.
  await page.getByTestId('copy-errors').click();
  await page.getByTestId('copy-status').filter({ hasText: 'Copied 1 error to the clipboard' }).waitFor();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  assert.match(copied, /^finsync sync errors\n\n.*Partial cove.* \(partial\)\n  error: (Partial cove\/)?broken\.jpg: .*not a readable JPEG/s);
  assert.ok(!copied.includes(stack.apiKey) && !/sig=/.test(copied), 'no secrets in the copied text');

  // Per-image statuses: closed, opened with the keyboard, loaded on demand.
  const toggle = page.getByTestId('image-status-toggle');
  assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
  await toggle.focus();
  await page.keyboard.press('Enter');
  assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
  const enc = page.getByTestId('encounter-toggle');
  assert.match(await enc.textContent(), /Partial cove.*Partial, 3 of 4 complete/);
  await enc.focus();
  await page.keyboard.press('Space');
  assert.equal(await enc.getAttribute('aria-expanded'), 'true');
  const rows = page.getByTestId('image-rows').getByTestId('file-status');
  await rows.first().waitFor();
  assert.equal(await rows.count(), 4);
  assert.equal(await rows.filter({ hasText: 'Complete' }).count(), 3);
  assert.equal(await rows.filter({ hasText: 'Error' }).count(), 1);
  await page.getByTestId('population-card').screenshot({ path: path.join(out, 'partial-card.png') });
  for (const [mode, w] of [['dark', 360], ['light', 360], ['dark', 1280]]) {
    await page.emulateMedia({ colorScheme: mode });
    await page.setViewportSize({ width: w, height: 800 });
    await page.screenshot({ path: path.join(out, `partial-${mode}-${w}.png`), fullPage: true });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than a ${w}px screen`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1280, height: 800 });

  // A reload shows the same counts and state from the stored aggregates.
  await page.reload();
  await page.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor();
  await expectCounts(page, [1, 0, 1, 3], 'after a reload');
  assert.equal(await page.getByTestId('encounter-state').getAttribute('data-state'), 'partial');

  // Fix the file, select the folder again, Retry: only it is sent.
  writeFileSync(path.join(folder, 'broken.jpg'), makeJpeg({ seed: 4242, width: 160, height: 120 }));
  await page.getByTestId('folder-input').setInputFiles(folder);
  let puts = 0;
  page.on('request', r => { if (r.method() === 'PUT' && r.url().startsWith(stack.blobUrl)) puts++; });
  await page.getByTestId('retry').click();
  await page.getByTestId('summary').filter({ hasText: '1 uploaded, 3 already on the server, 0 failed' }).waitFor({ timeout: 60000 });
  assert.equal(puts, 1, 'Retry sends only the failed image');
  await expectCounts(page, [0, 1, 0, 4], 'after Retry');
  await page.getByTestId('attention').waitFor({ state: 'detached' });

  // Reset: everything pending again, also after a reload; a Sync re-checks with the server.
  await page.getByTestId('reset').click();
  await page.getByTestId('reset-confirm').click();
  await expectCounts(page, [1, 0, 4, 0], 'after Reset');
  await page.reload();
  await page.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor();
  await expectCounts(page, [1, 0, 4, 0], 'after Reset and a reload');
  puts = 0;
  assert.equal(await upload(page, folder), '0 uploaded, 4 already on the server, 0 failed');
  assert.equal(puts, 0);
  await expectCounts(page, [0, 1, 0, 4], 'after a Sync following the Reset');
  assert.deepEqual(errors, []);
  await context.close();
});

test('a Conflict encounter from an older build is shown with what to do, and Sync resolves it', async () => {
  const folder = folderOf('Conflict bay', 3);
  const context = await browser.newContext();
  const { page } = await openApp(context);
  assert.equal(await upload(page, folder), '3 uploaded, 0 already on the server, 0 failed');

  // What an older build would have left: the same planned encounter, marked Conflict,
  // nothing uploaded locally (its engine skipped the encounter).
  await leaveApp(page, stack.appUrl);
  const { encounters, settings } = await readStores(page, ['encounters', 'settings']);
  // A quick upload's local id: population, date and folder name.
  const mine = encounters.filter(e => /^folder:1\/\d{4}-\d{2}-\d{2}\/Conflict bay$/.test(e.localId));
  assert.equal(mine.length, 1, encounters.map(e => e.localId).join());
  const localId = mine[0].localId;
  await writeV4(page, {
    encounters: mine,
    encounterSync: [{ localId, remote: null, status: { status: 'conflict' } }],
    imageSync: [],
    settings: settings[0],
  });

  const { page: again } = await openApp(context);
  await expectCounts(again, [1, 0, 3, 0], 'conflict after the upgrade');
  const state = again.getByTestId('encounter-state');
  await state.waitFor();
  assert.equal(await state.getAttribute('data-state'), 'conflict');
  assert.match(await state.textContent(), /Conflict.*Conflict bay.*Press Sync.*server's encounter is reused/s);
  await again.getByTestId('population-card').screenshot({ path: path.join(out, 'conflict-card.png') });

  assert.equal(await upload(again, folder), '0 uploaded, 3 already on the server, 0 failed');
  await expectCounts(again, [0, 1, 0, 3], 'conflict resolved');
  await again.getByTestId('attention').waitFor({ state: 'detached' });
  await leaveApp(again, stack.appUrl);
  const { encounterSync } = await readStores(again, ['encounterSync']);
  const row = encounterSync.find(r => r.localId === localId);
  assert.equal(row.status.status, 'synced');
  const detail = await fetch(`${stack.appUrl}/api/v1/encounters/${row.remote.id}`, { headers: { Authorization: `Bearer ${stack.apiKey}` } }).then(r => r.json());
  assert.equal(detail.images.length, 3, 'the server encounter was reused: no image twice');
  await context.close();
});

test("two folders of one name (every camera card's DCIM) are two encounters, both kept", async () => {
  const cards = [['card-a', '2024-07-15T12:00:00Z', 70], ['card-b', '2024-08-20T12:00:00Z', 80]].map(([card, when, seed]) => {
    const dir = path.join(out, card, 'DCIM');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < 2; i++) {
      const file = path.join(dir, `IMG_${i}.JPG`);
      writeFileSync(file, makeJpeg({ seed: seed + i, width: 160, height: 120 }));
      utimesSync(file, new Date(when), new Date(when));
    }
    return dir;
  });
  const context = await browser.newContext();
  let { page } = await openApp(context);
  assert.equal(await upload(page, cards[0]), '2 uploaded, 0 already on the server, 0 failed');
  await page.close();
  ({ page } = await openApp(context));
  assert.equal(await upload(page, cards[1]), '2 uploaded, 0 already on the server, 0 failed');
  await expectCounts(page, [0, 2, 0, 4], 'both cards synced, neither replaced by the other');

  await leaveApp(page, stack.appUrl);
  const { encounters, encounterSync } = await readStores(page, ['encounters', 'encounterSync']);
  const ids = encounters.map(e => e.localId).filter(id => id.endsWith('/DCIM')).sort();
  assert.deepEqual(ids, ['folder:1/2024-07-15/DCIM', 'folder:1/2024-08-20/DCIM']);
  const remote = ids.map(id => encounterSync.find(r => r.localId === id)?.remote?.id);
  assert.equal(new Set(remote).size, 2, `server encounters: ${remote}`);
  for (const id of remote) {
    const detail = await fetch(`${stack.appUrl}/api/v1/encounters/${id}`, { headers: { Authorization: `Bearer ${stack.apiKey}` } }).then(r => r.json());
    assert.equal(detail.images.length, 2, `encounter ${id}: its own two images`);
  }
  await context.close();
});
