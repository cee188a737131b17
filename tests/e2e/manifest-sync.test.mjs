// From a scanned folder to the server through an approved manifest: scan (fallback input),
// manifest with the location from the trip folder's name, photographer "Create on sync",
// approve, materialise, license + individuals + a note + approve all, then Sync the manifest
// from the Sync page. The first sync meets a server whose find-or-create fails (test-mode
// faults): the photographer's user is created, the encounters are not. The Retry must not ask
// for the user again (faults on /api/v1/users count the requests) and creates the encounters
// referencing it. The server must hold one encounter per trip with exactly its images,
// byte-exact in Azurite, and the reviewed licence, GPS, note, attested individuals and
// photographer user; Ensure Individuals creates the IDs the review added; a third Sync sends
// nothing. The Haro Strait files are over 64 KiB (camera-like trailing data), so the scan leaves
// their fingerprints to its fingerprint phase; the test takes them out again before the sync,
// as a tab closed before the phase reached them leaves them, and the sync computes them then —
// the same values, so the same idempotency keys.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { startStack, launchBrowser, outDir, readContainer } from './support/env.mjs';
import { makeJpeg } from './support/jpeg.mjs';
import { waitText } from './support/wait.mjs';

let stack, browser;
const out = outDir('manifest-sync');
const root = path.join(out, 'Survey M');
const trips = [
  { dir: '2024-07-15_Haro Strait', gps: { lat: 48.5, lon: -123.15 }, date: '2024:07:15', n: 3, big: true },
  { dir: '2024-07-16_Boundary Pass', gps: { lat: 48.77, lon: -123.0 }, date: '2024:07:16', n: 2 },
];
const files = [];

before(async () => {
  rmSync(root, { recursive: true, force: true });
  let seed = 1;
  for (const t of trips) {
    mkdirSync(path.join(root, t.dir), { recursive: true });
    for (let i = 0; i < t.n; i++) {
      const jpg = makeJpeg({ width: 120, height: 90, seed: seed++, exif: {
        date: `${t.date} 10:0${i}:00`, offset: '-07:00', artist: 'Ann Observer', lat: t.gps.lat + i / 10000, lon: t.gps.lon } });
      const bytes = t.big ? Buffer.concat([jpg, Buffer.alloc(100_000 + i, 9 + i)]) : jpg;
      const name = `P_${t.dir.slice(11, 15)}_${i}.jpg`;
      writeFileSync(path.join(root, t.dir, name), bytes);
      files.push({ trip: t.dir, name, bytes });
    }
  }
  stack = await startStack({ testMode: true });
  browser = await launchBrowser();
});
after(async () => { await browser?.close(); await stack?.stop(); });

const api = (p, init = {}) => fetch(`${stack.appUrl}${p}`, {
  ...init, headers: { Authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
}).then(async r => { assert.ok(r.ok, `${p}: ${r.status}`); return r.json(); });
const faults = body => api('/api/v1/test/faults', { method: 'POST', body: JSON.stringify({ rate: 1, kinds: ['503'], seed: 1, ...body }) });

test('an approved manifest syncs its encounters to the server, once', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${stack.appUrl}/#/discover`);
  await page.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });

  await page.getByTestId('scan-folder-input').setInputFiles(root);
  const job = page.getByTestId('scan-job').first();
  await job.getByTestId('scan-job-state').filter({ hasText: 'Done' }).waitFor({ timeout: 30000 });
  await job.getByTestId('new-manifest').click();
  const editor = page.getByTestId('manifest-editor');
  await editor.waitFor();
  // Location name from the trip folder ("2024-07-15_Haro Strait" → "Haro Strait").
  const loc = editor.getByTestId('chain-location');
  await loc.getByTestId('add-source').click();
  const link = loc.getByTestId('source-row').last();
  await link.getByTestId('source-kind').selectOption('folderName');
  await link.getByTestId('source-depth').fill('1');
  await link.getByTestId('source-depth').press('Tab');
  await link.getByTestId('source-regex').fill('^\\d{4}-\\d{2}-\\d{2}_(.+)$');
  await link.getByTestId('source-regex').press('Tab');
  await editor.getByTestId('preview-button').click();
  await waitText(page.getByTestId('preview-summary'), /^5 images → 2 encounters/);
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
  await waitText(review.getByTestId('review-message'), /License “Public \+ Attribution” set on 2 encounter/);
  // Known individuals on the first encounter, for Ensure Individuals.
  await review.getByTestId('review-row').first().getByTestId('row-edit').click();
  const ed = review.getByTestId('record-editor');
  for (const id of ['T049A', 'T049B']) {
    await ed.getByTestId('chip-input').fill(id);
    await ed.getByTestId('chip-input').press('Enter');
    await ed.getByTestId('chip').filter({ hasText: id }).waitFor();
  }
  await ed.getByTestId('edit-notes').fill('Two calves, seen from the ferry');
  await ed.getByTestId('edit-notes').press('Tab');
  await review.getByTestId('approve-all').click();
  await waitText(review.getByTestId('filter-approved'), /Approved \(2\)/);

  // The scan's fingerprint phase has fingerprinted the big files; take that back, as a tab closed
  // before the phase reached them leaves them.
  const scanFiles = (strip) => page.evaluate(strip => new Promise((resolve, reject) => {
    const open = indexedDB.open('finsync');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const tx = open.result.transaction(['scanJobs', 'scanFiles'], strip ? 'readwrite' : 'readonly');
      const jobs = tx.objectStore('scanJobs');
      const got = {};
      jobs.getAll().onsuccess = e => {
        const job = e.target.result.find(j => j.folder === 'Survey M');
        if (strip && !job.fingerprintsEndedMs) { reject(new Error('the fingerprint phase has not ended')); return; }
        tx.objectStore('scanFiles').index('byJob').getAll(job.id).onsuccess = e2 => {
          const big = e2.target.result.filter(r => r.size > 65536);
          for (const r of big) {
            got[r.relativePath] = r.fingerprint ?? null;
            if (strip) { delete r.fingerprint; tx.objectStore('scanFiles').put(r); }
          }
          if (strip) {
            job.counts.fingerprinted -= big.length;
            job.fingerprintsEndedMs = null;
            jobs.put(job);
          }
        };
      };
      tx.oncomplete = () => { open.result.close(); resolve(got); };
      tx.onerror = () => reject(tx.error);
    };
  }), strip);
  let phase = {};
  for (const until = Date.now() + 20000; Date.now() < until;) {
    try { phase = await scanFiles(true); break; } catch { await new Promise(r => setTimeout(r, 200)); }
  }
  assert.equal(Object.keys(phase).length, 3, 'the three Haro Strait files are over 64 KiB');
  for (const [p, fp] of Object.entries(phase)) assert.match(fp ?? '', /^\d+-[0-9a-f]{64}$/, `${p}: fingerprinted by the phase`);
  assert.ok(Object.values(await scanFiles(false)).every(fp => fp === null), 'the fingerprints are gone');

  // Sync page: the manifest row, Ensure Individuals, then Sync.
  await page.getByTestId('nav-sync').click();
  const row = page.getByTestId('manifest-row').first();
  await waitText(row, /v2 · .*Survey M/);
  assert.match(await row.textContent(), /25/, 'two encounters, five images');
  await row.getByTestId('ensure').click();
  await waitText(row.getByTestId('ensure-result'), /2 individuals found, 0 already existed, 2 created, 0 failed/);

  // 1st sync: find-or-create fails. The "Create on sync" user is created first, once.
  await faults({ routes: ['/api/v1/encounters/find-or-create'] });
  await row.getByTestId('sync-manifest').click();
  await waitText(page.getByTestId('summary'), /^0 uploaded, 0 already on the server, 5 failed/, 60000);
  // The sync fingerprinted the files first: the values the phase had found.
  assert.deepEqual(await scanFiles(false), phase);
  const users = await api('/api/v1/users?query=Observer');
  assert.equal(users.users.length, 1, JSON.stringify(users));
  const annUser = users.users[0];
  assert.deepEqual([annUser.firstName, annUser.lastName, annUser.placeholderEmail], ['Ann', 'Observer', true]);
  assert.equal((await api('/api/v1/populations')).populations[0].counts.encounters, 0);

  // 2nd sync (Retry): no request to /api/v1/users at all (the user id was persisted).
  await faults({ routes: ['/api/v1/users'] });
  await page.getByTestId('manifest-row').first().getByTestId('sync-manifest').click();
  await waitText(page.getByTestId('summary'), /^5 uploaded, 0 already on the server, 0 failed/, 60000);
  const counted = await api('/api/v1/test/faults');
  assert.equal(counted.matched, 0, 'the user is not created again');
  await faults({ routes: [] });
  await page.screenshot({ path: path.join(out, 'synced.png'), fullPage: true });
  const audit = await api('/api/v1/audit?limit=200');
  assert.equal(audit.entries.filter(e => e.action === 'user.create').length, 1);

  // The server: one encounter per trip, with exactly its images.
  const blobs = await readContainer(stack.blobService, stack.container);
  const originals = [...blobs.keys()].filter(n => n.startsWith('encounters/'));
  assert.equal(originals.length, 5);
  const byEncounter = new Map();
  for (const f of files) {
    const [name, bytes] = [...blobs.entries()].find(([n]) => n.endsWith('/' + f.name)) ?? [];
    assert.ok(name && bytes.equals(f.bytes), `${f.name} is on the server, byte-exact`);
    const enc = name.split('/')[1];
    byEncounter.set(enc, [...(byEncounter.get(enc) ?? []), f.trip]);
  }
  assert.equal(byEncounter.size, 2, 'one encounter per trip');
  for (const [enc, tripsOf] of byEncounter) {
    assert.equal(new Set(tripsOf).size, 1, `encounter ${enc} holds one trip's images`);
    const detail = await api(`/api/v1/encounters/${enc}`);
    assert.match(detail.locationName, /Haro Strait|Boundary Pass/);
    // What review decided reached the server.
    assert.equal(detail.license, 'publicAttribution');
    assert.equal(detail.photographer, 'Ann Observer');
    assert.equal(detail.photographerUserId, annUser.id, 'the encounter references the created user');
    const trip = trips.find(t => detail.locationName === t.dir.slice(11));
    assert.ok(Math.abs(detail.gps.lat - trip.gps.lat) < 0.01 && Math.abs(detail.gps.lon - trip.gps.lon) < 0.01, JSON.stringify(detail.gps));
    if (detail.locationName === 'Haro Strait') {
      assert.deepEqual(detail.individuals.map(i => [i.identifier, i.evidenceTier]), [['T049A', 'attested'], ['T049B', 'attested']]);
      assert.equal(detail.notes, 'Two calves, seen from the ferry');
    } else {
      assert.deepEqual(detail.individuals, []);
      assert.equal(detail.notes, null);
    }
  }
  // Again: nothing to send.
  await page.getByTestId('manifest-row').first().getByTestId('sync-manifest').click();
  await waitText(page.getByTestId('phase'), /Nothing to upload/);
  await context.close();
});
