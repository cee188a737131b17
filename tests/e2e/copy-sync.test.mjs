// Sync by server-side copy (issue 8): images that live in an Azure container ("source" in
// Azurite) are copied blob-to-blob by the server; the browser only mints each source's read
// URL from the saved storage connection and sends it in the copy request.
//  * a connection-string connection: every image is committed once on the server, byte-exact,
//    and the page made no request to the blob service at all (no GET of a source blob, no PUT);
//  * a SAS-token connection whose token has expired, and a connection deleted since the scan:
//    the Sync page explains CannotVerifyCopySource with the fix, names the missing connection,
//    and neither Copy errors, the activity log nor IndexedDB holds a SAS signature.
// The encounters are seeded in IndexedDB as a cloud manifest's approved encounters are stored
// (schema v4 rows, upgraded by the app to v6; the connection is written to the v6 store).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import {
  generateAccountSASQueryParameters, AccountSASPermissions, AccountSASResourceTypes, AccountSASServices,
  SASProtocol, StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { startStack, launchBrowser, outDir, readContainer, AZURITE_ACCOUNT, AZURITE_KEY } from './support/env.mjs';
import { makeJpeg } from './support/jpeg.mjs';
import { leaveApp, readStores, writeV4 } from './support/idb.mjs';

let stack, browser;
const out = outDir('copy-sync');

before(async () => {
  stack = await startStack();
  browser = await launchBrowser();
  await stack.blobService.getContainerClient('source').createIfNotExists();
});
after(async () => { await browser?.close(); await stack?.stop(); });

/** Puts `n` JPEGs into the "source" container under `prefix`; returns { blob, name, bytes }. */
async function sourceImages(prefix, n, seed) {
  const c = stack.blobService.getContainerClient('source');
  const images = [];
  for (let i = 0; i < n; i++) {
    const bytes = makeJpeg({ seed: seed + i, width: 160, height: 120 });
    const name = `IMG_${seed + i}.jpg`;
    const blob = `${prefix}/${name}`;
    await c.getBlockBlobClient(blob).uploadData(bytes);
    images.push({ blob, name, bytes });
  }
  return images;
}

/** A planned encounter (as `discovery::plan` stores an approved record) of Azure-sourced
 *  images, reached through the connection `connectionId`. */
function cloudEncounter(localId, location, images, connectionId) {
  const planned = images.map(img => {
    const key = 'v1-' + createHash('sha256').update(localId).update(img.bytes).digest('hex').slice(0, 40);
    return {
      localId: `source/${img.blob}#${key.slice(3, 15)}`, fileName: img.name, size: img.bytes.length,
      contentType: 'image/jpeg', idempotencyKey: key, status: { status: 'pending' },
      source: { kind: 'azure', connectionId: img.connectionId ?? connectionId, container: 'source', blob: img.blob },
    };
  });
  return {
    localId, populationId: 1,
    plan: {
      localId,
      fields: { date: '2024-07-15', time: null, locationName: location, gps: null, photographer: 'Cloud Observer', notes: null },
      remote: null, images: planned,
    },
    sources: images.map(img => ({ relativePath: `source/${img.blob}`, lastModified: 0 })),
  };
}

/** Fresh app data holding `encounters` and `connections`; returns the page, open on the app,
 *  with every request it makes recorded. */
async function seededApp(context, encounters, connections) {
  const page = await context.newPage();
  const requests = [];
  page.on('request', r => requests.push({ method: r.method(), url: r.url(), body: r.postData() ?? '' }));
  await page.goto(stack.appUrl);
  await page.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });
  await leaveApp(page, stack.appUrl);
  const { settings } = await readStores(page, ['settings']);
  await writeV4(page, { encounters, encounterSync: [], imageSync: [], settings: settings[0] });
  // Opening the app upgrades the data to v6, which has the connections store.
  await page.goto(stack.appUrl);
  await page.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });
  await leaveApp(page, stack.appUrl);
  await page.evaluate((rows) => new Promise((resolve, reject) => {
    const open = indexedDB.open('finsync');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction('connections', 'readwrite');
      for (const r of rows) tx.objectStore('connections').put(r);
      tx.oncomplete = () => { db.close(); resolve(); };
      tx.onerror = () => reject(tx.error);
    };
  }), connections);
  await page.goto(stack.appUrl);
  await page.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });
  return { page, requests };
}

const api = (p) => fetch(`${stack.appUrl}${p}`, { headers: { Authorization: `Bearer ${stack.apiKey}` } }).then(r => r.json());

function connectionString() {
  return `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${stack.blobUrl};`;
}

/** An account SAS token (Read + List, srt=sco) for the Azurite account, expiring at `expiresOn`. */
function accountSas(expiresOn) {
  return generateAccountSASQueryParameters({
    expiresOn, startsOn: new Date(expiresOn.getTime() - 2 * 3_600_000),
    permissions: AccountSASPermissions.parse('rl'), resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
    services: AccountSASServices.parse('b').toString(), protocol: SASProtocol.HttpsAndHttp,
  }, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY)).toString();
}

async function syncAndWait(page) {
  const resume = page.getByTestId('resume');
  await resume.waitFor({ timeout: 15000 });
  await resume.click();
  await page.getByTestId('summary').waitFor({ timeout: 60000 });
  return (await page.getByTestId('summary').textContent()).split('.')[0];
}

test('Azure-sourced images are copied by the server: committed once, nothing through the browser', async () => {
  const images = await sourceImages('2024/07/haro', 3, 100);
  const enc = cloudEncounter('cloud-survey/enc-haro', 'Haro Strait (cloud)', images, 'conn-key');
  const context = await browser.newContext();
  const { page, requests } = await seededApp(context, [enc], [{
    id: 'conn-key', name: 'Research archive', account: AZURITE_ACCOUNT,
    auth: { kind: 'connectionString', value: connectionString() }, createdAt: '2026-11-26T12:00:00Z',
  }]);
  const before = requests.length;
  assert.equal(await syncAndWait(page), '3 uploaded, 0 already on the server, 0 failed');
  await page.screenshot({ path: path.join(out, 'copied.png'), fullPage: true });
  const during = requests.slice(before);

  // The copies went to the server with per-blob read URLs (in the body only) …
  const copies = during.filter(r => r.url.endsWith('/api/v1/upload-sessions/copy'));
  // One request for the batch; on a loaded machine the engine may send it again (its copy
  // retries, after a slow or pending answer) — then only with images of that batch. That each image
  // was copied and committed once is checked on the server below.
  assert.ok(copies.length >= 1 && copies.length <= 3, `copy requests: ${copies.length}`);
  const items = JSON.parse(copies[0].body).items;
  assert.equal(items.length, 3);
  const batch = new Set(items.map(i => i.idempotencyKey));
  for (const c of copies.slice(1)) {
    for (const it of JSON.parse(c.body).items) assert.ok(batch.has(it.idempotencyKey), 'a re-sent copy request carries only images of the batch');
  }
  for (const it of items) {
    const u = new URL(it.sourceUrl);
    assert.ok(u.href.startsWith(`${stack.blobUrl}/source/2024/07/haro/`), u.href);
    assert.equal(u.searchParams.get('sp'), 'r', 'read-only');
    assert.equal(u.searchParams.get('sr'), 'b', 'one blob');
    const ttl = Date.parse(u.searchParams.get('se')) - Date.now();
    assert.ok(ttl > 50 * 60_000 && ttl <= 3_600_000, `expires in about an hour: ${ttl} ms`);
  }
  // … and the page itself never touched the blob service: no GET of a source, no PUT.
  const blobHost = new URL(stack.blobUrl).host;
  const toBlob = during.filter(r => new URL(r.url).host === blobHost);
  assert.deepEqual(toBlob.map(r => `${r.method} ${r.url}`), [], 'no request from the page to blob storage');

  // The server: one encounter, each image committed exactly once, byte-exact.
  await leaveApp(page, stack.appUrl);
  const { encounterSync, imageSync, activity } = await readStores(page, ['encounterSync', 'imageSync', 'activity']);
  const row = encounterSync.find(r => r.localId === enc.localId);
  assert.equal(row.status.status, 'synced');
  assert.equal(imageSync.filter(r => r.status.status === 'complete').length, 3);
  const detail = await api(`/api/v1/encounters/${row.remote.id}`);
  assert.equal(detail.images.length, 3, JSON.stringify(detail.images));
  const blobs = await readContainer(stack.blobService, stack.container);
  const originals = [...blobs.keys()].filter(n => n.startsWith(`encounters/${row.remote.id}/`) && /IMG_\d+\.jpg$/.test(n));
  assert.equal(originals.length, 3, originals.join(', '));
  for (const img of images) {
    const stored = originals.filter(n => n.endsWith('/' + img.name));
    assert.equal(stored.length, 1, `${img.name} once`);
    assert.ok(blobs.get(stored[0]).equals(img.bytes), `${img.name} byte-exact`);
  }
  assert.ok(!JSON.stringify(activity).includes('sig='), 'no SAS signature in the activity log');
  assert.ok(!JSON.stringify(imageSync).includes('sig='), 'no SAS signature in the sync state');

  // Again: nothing to copy.
  await page.goto(stack.appUrl);
  await page.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });
  assert.equal(await page.getByTestId('resume').count(), 0, 'nothing left to resume');
  await context.close();
});

test('an expired SAS token explains CannotVerifyCopySource with the fix; a deleted connection is named', async () => {
  const images = await sourceImages('2024/08/lime', 2, 200);
  const orphan = (await sourceImages('2024/08/lime', 1, 300)).map(i => ({ ...i, connectionId: 'conn-deleted' }));
  const enc = cloudEncounter('cloud-expired/enc-lime', 'Lime Kiln (cloud)', [...images, ...orphan], 'conn-expired');
  const context = await browser.newContext({ permissions: ['clipboard-read', 'clipboard-write'] });
  const { page, requests } = await seededApp(context, [enc], [{
    id: 'conn-expired', name: 'Old token', account: AZURITE_ACCOUNT,
    auth: { kind: 'sasToken', blobEndpoint: stack.blobUrl, token: accountSas(new Date(Date.now() - 3_600_000)) },
    createdAt: '2026-11-26T12:00:00Z',
  }]);
  const before = requests.length;
  assert.equal(await syncAndWait(page), '0 uploaded, 0 already on the server, 3 failed');
  const during = requests.slice(before);
  // The copy is not retried for a refusal (one request), and the orphan never left the page.
  const copies = during.filter(r => r.url.endsWith('/api/v1/upload-sessions/copy'));
  assert.equal(copies.length, 1);
  assert.equal(JSON.parse(copies[0].body).items.length, 2, 'the image without a connection is not sent');
  const blobHost = new URL(stack.blobUrl).host;
  assert.equal(during.filter(r => new URL(r.url).host === blobHost).length, 0, 'no request to blob storage');

  const group = page.getByTestId('error-group');
  await group.waitFor();
  const text = await group.textContent();
  await page.screenshot({ path: path.join(out, 'expired-sas.png'), fullPage: true });
  assert.match(text, /IMG_200\.jpg.*403 CannotVerifyCopySource.*expired.*Settings → Azure storage connections: add a SAS with Read \+ List, srt=sco, no IP restriction \(or use a connection string\)/s);
  assert.match(text, /IMG_300\.jpg.*storage connection "conn-deleted".*not saved in this browser.*Settings → Azure storage connections/s);
  assert.ok(!text.includes('sig='), 'no SAS signature on the page');

  await page.getByTestId('copy-errors').click();
  await page.getByTestId('copy-status').filter({ hasText: 'Copied 3 errors' }).waitFor();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  assert.match(copied, /CannotVerifyCopySource/);
  assert.ok(!/sig=/.test(copied), 'no SAS signature in the copied errors');

  await leaveApp(page, stack.appUrl);
  const { activity, imageSync, encounterSync } = await readStores(page, ['activity', 'imageSync', 'encounterSync']);
  const copyFailures = activity.filter(a => a.action === 'Server-side copy failed');
  assert.equal(copyFailures.length, 3, JSON.stringify(activity));
  assert.ok(copyFailures.some(a => /CannotVerifyCopySource/.test(a.detail)));
  for (const [what, rows] of [['activity log', activity], ['sync state', imageSync]]) {
    assert.ok(!JSON.stringify(rows).includes('sig='), `no SAS signature in the ${what}`);
  }
  assert.equal(encounterSync.find(r => r.localId === enc.localId).status.status, 'failed');
  await context.close();
});
