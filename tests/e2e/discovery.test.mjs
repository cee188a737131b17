// Discovery end to end: real app (release bundle) in headless Chromium against the real server.
// A generated survey folder (three trips, two photographers on one day, one trip without GPS,
// one file that only pretends to be a JPEG, hidden and non-image files) is scanned through the
// webkitdirectory fallback; a manifest groups it by trip folder, takes the location from the
// folder name, resolves the photographers; its approved version is materialised, reviewed
// (inline edit, license, approvals), and everything is still there after a reload. A re-scan
// diffs the folder; a different folder with the same name is not taken for it. A big card's
// fingerprint phase is stopped by a reload and resumed where it stopped. The scan reads files in
// its worker (scan-reader.js, under the served CSP); without it, in the page, with the same results.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { startStack, launchBrowser, outDir } from './support/env.mjs';
import { makeJpeg } from './support/jpeg.mjs';
import { waitText } from './support/wait.mjs';

let stack, browser;
const out = outDir('discovery');
const root = path.join(out, 'Survey 2024');
const HARO = { lat: 48.5, lon: -123.15 };
const BOUNDARY = { lat: 48.77, lon: -123.0 };

/** name → { dir, date, artist, gps } */
const photos = [
  ...[0, 1, 2, 3].map(i => ({ dir: '2024-07-15_Haro Strait', name: `IMG_${100 + i}.JPG`, date: `2024:07:15 10:0${i}:00`, artist: 'Jane Smith', gps: HARO })),
  ...[0, 1].map(i => ({ dir: '2024-07-16_Boundary Pass', name: `DSC_${200 + i}.jpg`, date: `2024:07:16 09:1${i}:00`, artist: 'Bo Ek', gps: BOUNDARY })),
  ...[0, 1].map(i => ({ dir: '2024-07-16_Boundary Pass', name: `IMG_${300 + i}.jpg`, date: `2024:07:16 09:3${i}:00`, artist: 'Jane Smith', gps: BOUNDARY })),
  // No GPS on this trip: the review must flag it and an inline edit fixes it.
  ...[0, 1].map(i => ({ dir: '2024-08-01_Sooke/card 1', name: `🐋 fluke ${i}.jpeg`, date: `2024:08:01 14:0${i}:00`, artist: 'Jane Smith' })),
];

before(async () => {
  rmSync(root, { recursive: true, force: true });
  for (const [i, p] of photos.entries()) {
    mkdirSync(path.join(root, p.dir), { recursive: true });
    const exif = { date: p.date, offset: '-07:00', artist: p.artist, model: 'Canon EOS R5', ...(p.gps ? { lat: p.gps.lat + i / 10000, lon: p.gps.lon } : {}) };
    writeFileSync(path.join(root, p.dir, p.name), makeJpeg({ width: 96, height: 72, seed: i + 1, exif }));
  }
  // The bad file: an HTML page saved with a .jpg name.
  writeFileSync(path.join(root, '2024-07-15_Haro Strait', 'broken.jpg'), '<html>not a photo</html>');
  writeFileSync(path.join(root, 'notes.txt'), 'field notes');
  writeFileSync(path.join(root, '.DS_Store'), 'hidden');
  mkdirSync(path.join(root, '.thumbnails'), { recursive: true });
  writeFileSync(path.join(root, '.thumbnails', 'x.jpg'), makeJpeg({ seed: 99 }));
  stack = await startStack();
  // A server user to resolve "Jane Smith" to (user search).
  const r = await fetch(`${stack.appUrl}/api/v1/users`, {
    method: 'POST', headers: { Authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ firstName: 'Jane', lastName: 'Smith', email: 'jane@example.org' }),
  });
  assert.ok(r.ok, `create user: ${r.status} ${await r.text()}`);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

async function openApp(context, hash = '#/discover') {
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', m => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', e => consoleErrors.push(String(e)));
  await page.goto(`${stack.appUrl}/${hash}`);
  await page.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });
  return { page, consoleErrors };
}

const shot = (page, name) => page.screenshot({ path: path.join(out, `${name}.png`), fullPage: true });

/** Waits until `locator`'s text matches `re`; returns the text. */
test('scan, manifest, materialise, review — and all of it survives a reload', async () => {
  const context = await browser.newContext();
  const { page, consoleErrors } = await openApp(context);

  // 1. Scan through the fallback input, watching the live progress appear.
  await page.evaluate(() => {
    window.__progressSeen = false;
    new MutationObserver(() => {
      if (document.querySelector('[data-testid=scan-progress]')) window.__progressSeen = true;
    }).observe(document.body, { childList: true, subtree: true });
  });
  const workers = [];
  page.on('worker', w => workers.push(new URL(w.url()).pathname));
  await page.getByTestId('scan-folder-input').setInputFiles(root);
  const job = page.getByTestId('scan-job').first();
  await job.getByTestId('scan-job-state').filter({ hasText: 'Done' }).waitFor({ timeout: 30000 });
  assert.ok(await page.evaluate(() => window.__progressSeen), 'the live progress (files seen, images, rate, Cancel) was shown');
  assert.deepEqual(workers, ['/scan-reader.js', '/scan-reader.js'], 'the files were read in the scan workers');
  const counts = await job.getByTestId('scan-job-counts').textContent();
  // 10 photos + broken.jpg + notes.txt + .DS_Store + .thumbnails/x.jpg = 14 files.
  assert.match(counts, /^14 files: 10 images/, counts);
  assert.match(counts, /3 skipped \(2 hidden\/system, 0 RAW, 1 other\)/, counts);
  assert.match(counts, /1 with problems/, counts);
  await waitText(page.getByTestId('scan-notice'), /done — 14 files, 10 images/);
  await job.getByRole('button', { name: 'Details' }).click();
  await waitText(page.getByTestId('scan-error-list'), /broken\.jpg — .*not an image/);
  await shot(page, '1-scanned');

  // 2. A manifest on the scan; approval fails while photographers are unresolved.
  await job.getByTestId('new-manifest').click();
  const editor = page.getByTestId('manifest-editor');
  await editor.waitFor();
  await waitText(page.getByTestId('preview-summary'), /^10 images → 4 encounters/);
  await editor.getByTestId('approve-version').first().click();
  await waitText(editor.getByTestId('manifest-problem'), /2 photographer name\(s\) are unresolved: Bo Ek, Jane Smith/);

  // 3. Edit a field rule: the location name from the trip folder (depth 1) after the date.
  const loc = editor.getByTestId('chain-location');
  await loc.getByTestId('add-source').click();
  const link = loc.getByTestId('source-row').last();
  await link.getByTestId('source-kind').selectOption('folderName');
  await link.getByTestId('source-depth').fill('1');
  await link.getByTestId('source-depth').press('Tab');
  await link.getByTestId('source-regex').fill('^\\d{4}-\\d{2}-\\d{2}_(.+)$');
  await link.getByTestId('source-regex').press('Tab');
  await editor.getByTestId('preview-button').click();
  const preview = page.getByTestId('preview');
  await waitText(preview.getByTestId('coverage'), /Location name100 %/);
  const cards = preview.getByTestId('preview-card');
  assert.equal(await cards.count(), 4);
  assert.match(await cards.allTextContents().then(t => t.join('|')), /Haro Strait — from folder name “2024-07-15_Haro Strait”/);
  // Sooke has no GPS: red, with the reason.
  const sooke = cards.filter({ hasText: 'Sooke' });
  assert.equal(await sooke.getByTestId('preview-confidence').getAttribute('data-confidence'), 'red');
  assert.match(await sooke.textContent(), /missing GPS/);
  // Thumbnails are object URLs of the files, made when they scroll into view.
  assert.equal(await page.locator('[data-testid=preview] img[src^="blob:"]').count(), 0, 'no thumbnail before it is seen');
  await preview.scrollIntoViewIfNeeded();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=preview] img[src^="blob:"]').length >= 4);
  await shot(page, '2-preview');

  // 4. Photographers: Jane Smith → the server user (search); Bo Ek → create on sync.
  const jane = editor.getByTestId('photographer').filter({ hasText: 'Jane Smith' });
  await jane.getByTestId('phot-status').selectOption('resolved');
  await jane.getByTestId('user-search-go').click();
  await jane.getByTestId('user-hit').filter({ hasText: 'Jane Smith' }).click();
  await waitText(jane.getByTestId('phot-state'), /✓ Jane Smith/);
  const bo = editor.getByTestId('photographer').filter({ hasText: 'Bo Ek' });
  await bo.getByTestId('phot-status').selectOption('create');
  assert.equal(await bo.getByTestId('create-first').inputValue(), 'Bo');
  assert.equal(await bo.getByTestId('create-last').inputValue(), 'Ek');
  await waitText(editor.getByTestId('phot-summary'), /Every name is resolved/);

  // 5. Save (v2), approve it, materialise.
  await editor.getByTestId('save-manifest').click();
  await waitText(editor.getByTestId('manifest-message'), /^Saved as v2: location name: IPTC → IPTC → folder name \[1\]/);
  const v2 = editor.locator('[data-testid=version][data-version="2"]');
  await v2.getByTestId('approve-version').click();
  await waitText(v2.getByTestId('version-status'), /Approved by this browser/);
  await shot(page, '3-approved');
  await v2.getByTestId('materialize').click();

  // 6. Review: 4 records; Sooke incomplete (missing GPS).
  const review = page.getByTestId('review-page');
  await review.getByTestId('review-row').first().waitFor({ timeout: 15000 });
  assert.match(page.url(), /#\/review\/manifest-/);
  assert.equal(await review.getByTestId('review-row').count(), 4);
  await waitText(review.getByTestId('filter-incomplete'), /Incomplete \(1\)/);
  await waitText(review.getByTestId('filter-pending'), /Pending \(3\)/);
  await waitText(review.getByTestId('files-ok'), /All 10 files are where the scan found them/);
  const sookeRow = review.locator('[data-testid=review-row]', { hasText: 'Sooke' });
  assert.match(await sookeRow.getByTestId('row-reason').textContent(), /missing GPS/);

  // Approve All needs a license first.
  await review.getByTestId('approve-all').click();
  await waitText(review.getByTestId('review-problem'), /3 pending encounter\(s\) have no license/);
  await review.getByTestId('bulk-license').selectOption('publicAttribution');
  await waitText(review.getByTestId('review-message'), /License “Public \+ Attribution” set on 4 encounter/);

  // Inline edit: GPS for Sooke (Incomplete → Pending at once), a known individual, a note.
  await sookeRow.getByTestId('row-edit').click();
  const ed = review.getByTestId('record-editor');
  await ed.getByTestId('edit-gps').fill('48.37, -123.73');
  await ed.getByTestId('edit-gps').press('Tab');
  await waitText(sookeRow.getByTestId('row-status'), /^Pending$/);
  await ed.getByTestId('chip-input').fill('T049A');
  await ed.getByTestId('chip-input').press('Enter');
  await ed.getByTestId('chip').filter({ hasText: 'T049A' }).waitFor();
  await ed.getByTestId('edit-notes').fill('Seen from the ferry');
  await ed.getByTestId('edit-notes').press('Tab');
  await shot(page, '4-review-edit');
  await review.getByTestId('approve-all').click();
  await waitText(review.getByTestId('approval-percent'), /^100 % approved/);
  await waitText(review.getByTestId('filter-approved'), /Approved \(4\)/);
  await shot(page, '5-review-approved');

  // 7. Reload: everything is still there.
  await page.reload();
  await page.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor();
  await review.getByTestId('review-row').first().waitFor({ timeout: 15000 });
  await waitText(review.getByTestId('filter-approved'), /Approved \(4\)/);
  assert.deepEqual(await review.getByTestId('row-license').allTextContents(), Array(4).fill('Public + Attribution'));
  const sookeAgain = review.locator('[data-testid=review-row]', { hasText: 'Sooke' });
  await sookeAgain.getByTestId('row-edit').click();
  assert.equal(await review.getByTestId('edit-gps').inputValue(), '48.370000, -123.730000');
  assert.equal(await review.getByTestId('edit-notes').inputValue(), 'Seen from the ferry');
  await review.getByTestId('chip').filter({ hasText: 'T049A' }).waitFor();
  // A file list cannot be kept across a reload: the page asks for the folder to check files.
  await review.getByTestId('files-not-connected').waitFor();
  await shot(page, '6-after-reload-review');
  await page.getByTestId('nav-discover').click();
  await page.getByTestId('scan-job').first().getByTestId('scan-job-state').filter({ hasText: 'Done' }).waitFor();
  await waitText(page.getByTestId('manifest-status'), /v2 latest · v2 approved/);
  await shot(page, '7-after-reload-discover');

  // 8. Files change on disk: one deleted, one rewritten. The review, given the folder again,
  //    says so (amber banner), and "Re-run discovery" re-scans the folder with a diff.
  rmSync(path.join(root, '2024-07-16_Boundary Pass', 'DSC_200.jpg'));
  writeFileSync(path.join(root, '2024-07-15_Haro Strait', 'IMG_100.JPG'), makeJpeg({ width: 80, height: 60, seed: 500, exif: { date: '2024:07:15 10:00:00', artist: 'Jane Smith' } }));
  await page.goBack();
  await review.getByTestId('files-not-connected').waitFor();
  await review.getByTestId('review-folder-input').setInputFiles(root);
  await waitText(review.getByTestId('missing-banner'), /2 files moved or renamed since the last scan\. Sync will skip these files until discovery runs again\./);
  await shot(page, '8-missing-files');
  await review.getByTestId('rerun-discovery').click();
  await waitText(page.getByTestId('awaiting-folder'), /Choose the folder “Survey 2024” again/);
  await page.getByTestId('scan-folder-input').setInputFiles(root);
  const rescan = page.getByTestId('scan-job').filter({ hasText: 'Survey 2024 — scan 2' });
  await rescan.getByTestId('scan-job-state').filter({ hasText: 'Done' }).waitFor({ timeout: 30000 });
  assert.match(await rescan.getByTestId('scan-job-diff').textContent(), /0 new, 1 changed, 1 removed, 9 unchanged/);
  await waitText(page.getByTestId('manifest'), /Survey 2024 — scan 2/);
  await shot(page, '9-rescanned');

  // 9. Another folder also called "Survey 2024" (another card, elsewhere on disk): scanning it
  //    is not a re-scan of this one — no diff — and the manifest stays on this folder's scan.
  const elsewhere = path.join(out, 'elsewhere', 'Survey 2024');
  rmSync(elsewhere, { recursive: true, force: true });
  mkdirSync(path.join(elsewhere, '2024-07-15_Haro Strait'), { recursive: true });
  writeFileSync(path.join(elsewhere, '2024-07-15_Haro Strait', 'IMG_101.JPG'), makeJpeg({ width: 64, height: 48, seed: 700, exif: { date: '2024:09:01 08:00:00', artist: 'Bo Ek' } }));
  await page.getByTestId('scan-folder-input').setInputFiles(elsewhere);
  const other = page.getByTestId('scan-job').filter({ hasText: 'Survey 2024 — scan 3' });
  await other.getByTestId('scan-job-state').filter({ hasText: 'Done' }).waitFor({ timeout: 30000 });
  assert.equal(await other.getByTestId('scan-job-diff').count(), 0, 'not diffed against the other folder');
  await waitText(page.getByTestId('manifest'), /Survey 2024 — scan 2/);
  assert.doesNotMatch(await page.getByTestId('manifest').first().textContent(), /scan 3/);

  assert.deepEqual(consoleErrors, []);
  await context.close();
});

// The fingerprint phase: a scan is usable once its metadata is in, and fingerprints the files
// it did not read whole after it, on the job's card. A reload stops it (a file list is not kept
// across one); choosing the folder again resumes it where it stopped — the files fingerprinted
// before the reload are not read again.
test('fingerprints come after the scan and resume after a reload where they stopped', async () => {
  const N = 1000;
  const card = path.join(out, 'Big Card');
  rmSync(card, { recursive: true, force: true });
  mkdirSync(path.join(card, '100CANON'), { recursive: true });
  // Files over 128 KiB: the fingerprint reads their first and last 64 KiB as two slices.
  const trailer = Buffer.alloc(140_000, 7);
  for (let i = 0; i < N; i++) {
    const jpg = makeJpeg({ width: 32, height: 24, seed: 1000 + i, exif: { date: '2024:09:02 11:00:00', artist: 'Jane Smith' } });
    writeFileSync(path.join(card, '100CANON', `IMG_${String(i).padStart(4, '0')}.JPG`), Buffer.concat([jpg, trailer, Buffer.from(`#${i}`)]));
  }
  const context = await browser.newContext();
  // Counts the 64 KiB slices the page reads (the fingerprint's head and tail reads).
  await context.addInitScript(() => {
    window.__fingerprintSlices = 0;
    const slice = Blob.prototype.slice;
    Blob.prototype.slice = function (start, end, type) {
      if (end - start === 65536) window.__fingerprintSlices++;
      return slice.call(this, start, end, type);
    };
  });
  const { page, consoleErrors } = await openApp(context);
  const storedJob = () => page.evaluate(() => new Promise((resolve, reject) => {
    const open = indexedDB.open('finsync');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const req = open.result.transaction('scanJobs').objectStore('scanJobs').getAll();
      req.onsuccess = () => { resolve(req.result.find(j => j.folder === 'Big Card')); open.result.close(); };
      req.onerror = () => reject(req.error);
    };
  }));
  await page.getByTestId('scan-folder-input').setInputFiles(card);
  const job = page.getByTestId('scan-job').filter({ hasText: 'Big Card — scan 1' });
  await job.getByTestId('scan-job-state').filter({ hasText: 'Done' }).waitFor({ timeout: 60000 });
  // Usable at once (a manifest can be made); the card shows the fingerprints coming in.
  await job.getByTestId('new-manifest').waitFor();
  let done = 0;
  for (const until = Date.now() + 60000; done < 200 && Date.now() < until;) {
    const text = await job.getByTestId('scan-job-fingerprints').textContent().catch(() => '');
    done = Number(/^Fingerprinting (\d+) \/ 1000 images…$/.exec(text)?.[1] ?? done);
    await new Promise(r => setTimeout(r, 50));
  }
  assert.ok(done >= 200 && done < N, `the phase was caught under way (${done} of ${N})`);
  await page.reload();
  await page.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor();
  const stopped = await storedJob();
  const kept = stopped.counts.fingerprinted;
  assert.ok(kept >= 200 && kept < N, `fingerprints stored before the reload: ${kept}`);
  assert.equal(stopped.fingerprintsEndedMs ?? null, null);
  await waitText(job.getByTestId('scan-job-fingerprints'), new RegExp(`^Fingerprints: ${kept} / 1000 — reconnect the folder to finish`));
  await shot(page, '10-fingerprints-paused');

  // The folder chosen again: the phase goes on with the files it had not stored.
  await job.getByTestId('scan-reconnect').click();
  await waitText(page.getByTestId('awaiting-folder'), /Big Card/);
  await page.getByTestId('scan-folder-input').setInputFiles(card);
  for (const until = Date.now() + 120000; Date.now() < until;) {
    if ((await storedJob()).fingerprintsEndedMs) break;
    await new Promise(r => setTimeout(r, 200));
  }
  const finished = await storedJob();
  assert.equal(finished.counts.fingerprinted, N);
  assert.equal(finished.counts.fingerprintFailed, 0);
  assert.ok(finished.fingerprintsEndedMs, 'the phase ended');
  assert.equal(await page.evaluate(() => window.__fingerprintSlices), 2 * (N - kept), 'only the files not fingerprinted before the reload were read');
  await job.getByTestId('scan-job-fingerprints').waitFor({ state: 'detached' });
  // Every stored fingerprint is `<size>-<sha256>` of its own file.
  const rows = await page.evaluate(() => new Promise((resolve, reject) => {
    const open = indexedDB.open('finsync');
    open.onsuccess = () => {
      const req = open.result.transaction('scanFiles').objectStore('scanFiles').index('byJob').getAll(IDBKeyRange.only(
        [...document.querySelectorAll('[data-testid=scan-job]')].find(e => e.textContent.includes('Big Card')).dataset.job));
      req.onsuccess = () => { resolve(req.result.map(r => [r.relativePath, r.size, r.fingerprint])); open.result.close(); };
      req.onerror = () => reject(req.error);
    };
    open.onerror = () => reject(open.error);
  }));
  assert.equal(rows.length, N);
  assert.equal(new Set(rows.map(r => r[2])).size, N, 'one fingerprint per file');
  for (const [p, size, fp] of rows) assert.match(fp, new RegExp(`^${size}-[0-9a-f]{64}$`), p);
  assert.deepEqual(consoleErrors, []);
  await context.close();
});

// A host that does not serve scan-reader.js (or a policy that forbids the worker): the scan reads
// in the page instead, and stores the same rows — metadata, per-file reasons — as with the worker.
test('without its worker the scan reads the files in the page, with the same results', async () => {
  const folder = path.join(out, 'Worker Or Not');
  rmSync(folder, { recursive: true, force: true });
  mkdirSync(path.join(folder, 'trip'), { recursive: true });
  for (const [i, p] of photos.slice(0, 6).entries()) {
    const exif = { date: p.date, offset: '-07:00', artist: p.artist, model: 'Canon EOS R5', ...(p.gps ? { lat: p.gps.lat, lon: p.gps.lon } : {}) };
    const jpg = makeJpeg({ width: 64, height: 48, seed: 50 + i, exif });
    // Two of them with 100 KB of APP15 segments before their EXIF: the reader is asked for more
    // than the head.
    const pad = i < 2 ? [0, 1].map(() => Buffer.concat([Buffer.from([0xFF, 0xEF, 0xC3, 0x52]), Buffer.alloc(50_000, i)])) : [];
    writeFileSync(path.join(folder, 'trip', p.name), Buffer.concat([jpg.subarray(0, 2), ...pad, jpg.subarray(2)]));
  }
  writeFileSync(path.join(folder, 'trip', 'broken.jpg'), '<html>not a photo</html>');
  writeFileSync(path.join(folder, 'trip', 'empty.jpg'), '');
  const rowsOf = page => page.evaluate(() => new Promise((resolve, reject) => {
    const open = indexedDB.open('finsync');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const req = open.result.transaction('scanFiles').objectStore('scanFiles').getAll();
      req.onsuccess = () => {
        resolve(req.result.filter(r => r.relativePath.startsWith('Worker Or Not/'))
          .map(({ jobId, ...r }) => r).sort((a, b) => a.relativePath < b.relativePath ? -1 : 1));
        open.result.close();
      };
      req.onerror = () => reject(req.error);
    };
  }));
  const scan = async (withWorker) => {
    const context = await browser.newContext({ serviceWorkers: 'block' });
    let asked = 0;
    await context.route('**/scan-reader.js', r => {
      asked++;
      return withWorker ? r.continue() : r.fulfill({ status: 404, body: 'not here' });
    });
    const { page, consoleErrors } = await openApp(context);
    await page.getByTestId('scan-folder-input').setInputFiles(folder);
    const job = page.getByTestId('scan-job').first();
    await job.getByTestId('scan-job-state').filter({ hasText: 'Done' }).waitFor({ timeout: 30000 });
    const counts = await job.getByTestId('scan-job-counts').textContent();
    assert.match(counts, /^8 files: 6 images .*2 with problems/, counts);
    const rows = await rowsOf(page);
    assert.ok(asked >= 1, 'the scan asked for its worker');
    await context.close();
    return { rows, consoleErrors };
  };
  const worker = await scan(true);
  const inPage = await scan(false);
  assert.equal(worker.rows.length, 8);
  assert.deepEqual(inPage.rows, worker.rows);
  assert.match(worker.rows.find(r => r.relativePath.endsWith('broken.jpg')).error, /not an image/);
  assert.match(worker.rows.find(r => r.relativePath.endsWith('empty.jpg')).error, /empty/);
  const dated = worker.rows.filter(r => r.meta?.taken);
  assert.equal(dated.length, 6, 'every photo has its EXIF date, the two with it past 64 KiB too');
  assert.ok(dated.filter(r => r.size > 100_000).length === 2);
  assert.deepEqual(worker.consoleErrors, []);
});
