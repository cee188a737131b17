// Cloud discovery end to end (issue 8): real app (release bundle) in headless Chromium, the real
// server, and images in an Azurite container "source" standing in for a research group's
// storage. Settings → Azure storage connections refuses a token lacking List, an expired
// token, a token the service rejects and an endpoint the page cannot reach, each with what to
// do; a good token is checked live and saved (masked). Discover scans the container (prefix
// "2024/"), and the same pipeline as for folders groups, approves, materialises and reviews
// it, each image showing that it is in Azure; Sync then has the server copy every image
// (each once, byte-exact, no request from the page to the source). The page only ever sent List Blobs and Range
// GETs of small ranges (never a whole large blob), its fingerprints equal the local
// definition's, and no SAS signature reached the console or the activity log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import {
  AccountSASPermissions, AccountSASResourceTypes, AccountSASServices, SASProtocol,
  StorageSharedKeyCredential, generateAccountSASQueryParameters,
} from '@azure/storage-blob';
import { startStack, launchBrowser, outDir, freePort, readContainer, AZURITE_ACCOUNT, AZURITE_KEY } from './support/env.mjs';
import { makeJpeg } from './support/jpeg.mjs';
import { waitText } from './support/wait.mjs';
import { readStores } from './support/idb.mjs';

let stack, browser;
const out = outDir('cloud-discovery');
const HARO = { lat: 48.5, lon: -123.15 };
const BOUNDARY = { lat: 48.77, lon: -123.0 };
const PAD = 250 * 1024;
/** Blobs larger than the prefix + tail reads (192 KiB) must never be read whole. */
const SMALL_LIMIT = 192 * 1024;
const LOGS = 1000;

const photos = [
  ...[0, 1, 2].map(i => ({ name: `2024/2024-07-15_Haro Strait/IMG_${100 + i}.JPG`, date: `2024:07:15 10:0${i}:00`, gps: HARO, pad: true })),
  { name: '2024/2024-07-16_Boundary Pass/ヒレ 1.jpg', date: '2024:07:16 09:10:00', gps: BOUNDARY, pad: true },
  { name: '2024/2024-07-16_Boundary Pass/DSC 2 (copy).jpg', date: '2024:07:16 09:11:00', gps: BOUNDARY, pad: true },
  // Small enough to be read in one range (the fingerprint needs its first and last 64 KiB).
  { name: '2024/2024-07-16_Boundary Pass/small.jpg', date: '2024:07:16 09:12:00', gps: BOUNDARY, pad: false },
];
const blobs = new Map();

function sas(perms, { expiresOn = new Date(Date.now() + 2 * 86400e3), resourceTypes = 'sco' } = {}) {
  return generateAccountSASQueryParameters({
    expiresOn, permissions: AccountSASPermissions.parse(perms), services: AccountSASServices.parse('b').toString(),
    resourceTypes: AccountSASResourceTypes.parse(resourceTypes).toString(), protocol: SASProtocol.HttpsAndHttp,
  }, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY)).toString();
}
const sigOf = token => decodeURIComponent(new URLSearchParams(token).get('sig'));

/** The fingerprint as crates/core/src/fingerprint.rs defines it. */
function fingerprint(buf) {
  const size = buf.length;
  const head = buf.subarray(0, Math.min(size, 65536));
  const tail = buf.subarray(Math.max(0, size - 65536));
  const le = n => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(n)); return b; };
  const h = createHash('sha256');
  h.update('finsync-fp-v1'); h.update(le(size)); h.update(le(head.length)); h.update(head); h.update(le(tail.length)); h.update(tail);
  return `${size}-${h.digest('hex')}`;
}

before(async () => {
  stack = await startStack();
  const source = stack.blobService.getContainerClient('source');
  await source.create();
  for (const [i, p] of photos.entries()) {
    const exif = { date: p.date, offset: '-07:00', artist: 'Jane Smith', model: 'Canon EOS R5', lat: p.gps.lat + i / 10000, lon: p.gps.lon };
    const jpeg = makeJpeg({ width: 96, height: 72, seed: i + 1, exif });
    // Trailing bytes after the image (as some cameras write): a large file whose metadata is
    // at the start.
    const body = p.pad ? Buffer.concat([jpeg, Buffer.alloc(PAD, i + 7)]) : jpeg;
    blobs.set(p.name, body);
    await source.getBlockBlobClient(p.name).uploadData(body, { blobHTTPHeaders: { blobContentType: 'image/jpeg' } });
  }
  for (const [name, body] of [['2024/notes.txt', 'field notes'], ['2024/.thumbs/x.jpg', makeJpeg({ seed: 99 })], ['2024/Thumbs.db', 'x'], ['other/outside-prefix.jpg', makeJpeg({ seed: 98 })]]) {
    await source.getBlockBlobClient(name).uploadData(Buffer.from(body));
  }
  // 1000 log files after the photos (names sort last): the listing takes two pages of 1000.
  const logs = Array.from({ length: LOGS }, (_, i) => `2024/zz-logs/log ${String(i).padStart(4, '0')}.txt`);
  for (let i = 0; i < logs.length; i += 50) {
    await Promise.all(logs.slice(i, i + 50).map(n => source.getBlockBlobClient(n).uploadData(Buffer.from('log'))));
  }
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

const shot = (page, name) => page.screenshot({ path: path.join(out, `${name}.png`), fullPage: true });

/** Everything of one IndexedDB store of the app's database. */
const readStore = async (page, name) => (await readStores(page, [name]))[name];

async function addConnection(page, { name, token, endpoint = stack.blobUrl, container = 'source' }) {
  const card = page.getByTestId('azure-connections');
  await card.locator('input[name=azure-name]').fill(name);
  await card.locator('input[name=azure-account]').fill(AZURITE_ACCOUNT);
  await card.locator('input[name=azure-endpoint]').fill(endpoint);
  await card.locator('input[name=azure-token]').fill(token);
  await card.locator('input[name=azure-container]').fill(container);
  await card.getByTestId('azure-add').click();
}

test('connections are checked; a container is scanned, grouped, approved, reviewed with Range reads only, and synced by server-side copy', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const consoleLines = [];
  const consoleErrors = [];
  page.on('console', m => { consoleLines.push(m.text()); if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', e => consoleErrors.push(String(e)));
  const blobOrigin = new URL(stack.blobUrl).origin;
  const blobRequests = [];
  page.on('request', req => {
    if (!req.url().startsWith(blobOrigin)) return;
    blobRequests.push({ method: req.method(), url: new URL(req.url()), range: req.headers()['range'] });
  });
  await page.goto(`${stack.appUrl}/#/settings`);
  await page.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });
  const card = page.getByTestId('azure-connections');
  assert.match(await card.textContent(), /credentials stay in this browser only/);

  // 1. A token without List: refused before anything is sent, with what is missing and how
  //    to make a new one.
  const noList = sas('r');
  const before = blobRequests.length;
  await addConnection(page, { name: 'No list', token: noList });
  let refused = await waitText(card.getByTestId('azure-refused'), /lacks the List \(l\) permission/);
  assert.match(refused, /az storage account generate-sas .*--permissions rl/);
  assert.equal(blobRequests.length, before, 'a token that cannot work is not sent');

  // 2. An expired token.
  const expired = sas('rl', { expiresOn: new Date(Date.now() - 3600e3) });
  await addConnection(page, { name: 'Expired', token: expired });
  refused = await waitText(card.getByTestId('azure-refused'), /the token expired on \d{4}-\d{2}-\d{2}T/);
  assert.match(refused, /Make a new one in the Azure portal/);

  // 3. A well-formed token the storage service rejects (signature altered): the live check
  //    lists the container and explains the 403.
  const good = sas('rl');
  const forged = good.replace(/sig=[^&]+/, 'sig=' + encodeURIComponent(Buffer.alloc(32, 1).toString('base64')));
  await addConnection(page, { name: 'Forged', token: forged });
  refused = await waitText(card.getByTestId('azure-refused'), /^Not added: Listing the container “source” failed \(HTTP 403/);
  assert.match(refused, /refused the token|does not accept the token/);

  // 4. An endpoint the page cannot reach (nothing listens there): the fetch TypeError is
  //    explained with the CORS rule the account needs.
  const deadPort = await freePort();
  await addConnection(page, { name: 'Unreachable', token: good, endpoint: `http://127.0.0.1:${deadPort}/${AZURITE_ACCOUNT}` });
  refused = await waitText(card.getByTestId('azure-refused'), /did not answer this page/);
  assert.match(refused, new RegExp(`az storage cors add --account-name <account> --services b --methods GET HEAD OPTIONS --origins ${stack.appUrl.replace(/[.]/g, '\\.')}`));
  assert.match(refused, /x-ms-\*,range/);
  assert.equal(await card.getByTestId('azure-connection').count(), 0, 'nothing saved');
  await shot(page, '1-refused');

  // 5. A good token: checked, saved, listed masked.
  await addConnection(page, { name: 'Lab archive', token: good });
  await waitText(card.getByTestId('azure-added'), /Connection “Lab archive” added: the container “source” can be listed/);
  await card.getByTestId('azure-connection').first().waitFor();
  const listed = await card.getByTestId('azure-connection').textContent();
  assert.match(listed, /Lab archive — account devstoreaccount1/);
  assert.match(listed, /SAS token \(sp=rl, expires .*signature ••••••\)/);
  assert.ok(!listed.includes(sigOf(good)), 'the signature is not shown');
  assert.equal(await card.locator('input[name=azure-token]').inputValue(), '', 'the token field is cleared');
  const saved = await readStore(page, 'connections');
  assert.equal(saved.length, 1);
  assert.equal(saved[0].auth.kind, 'sasToken');
  assert.equal(saved[0].auth.blobEndpoint, stack.blobUrl);
  await shot(page, '2-connection-added');

  // 6. Discover: scan the container under "2024/".
  await page.getByTestId('nav-discover').click();
  const azure = page.getByTestId('azure-source');
  await azure.locator('input[name=azure-scan-container]').fill('source');
  await azure.locator('input[name=azure-scan-prefix]').fill('2024/');
  const scanStart = blobRequests.length;
  await azure.getByTestId('azure-scan').click();
  const job = page.getByTestId('scan-job').first();
  await job.getByTestId('scan-job-state').filter({ hasText: 'Done' }).waitFor({ timeout: 30000 });
  assert.match(await job.getByTestId('scan-job-source').textContent(), /^Azure Lab archive \/ source \/ 2024\/\*$/);
  const counts = await job.getByTestId('scan-job-counts').textContent();
  // 6 photos + notes.txt + .thumbs/x.jpg + Thumbs.db + 1000 logs; other/ is outside the prefix.
  assert.match(counts, /^1009 files: 6 images/, counts);
  assert.match(counts, /1003 skipped \(2 hidden\/system, 0 RAW, 1001 other\)/, counts);
  assert.match(counts, /0 with problems/, counts);
  assert.equal(await job.getByTestId('scan-reconnect').count(), 0, 'a container has no folder to reconnect');
  await shot(page, '3-scanned');

  // The scan's requests: List Blobs pages and Range GETs only; nothing else, no whole large blob.
  const scanReqs = blobRequests.slice(scanStart);
  const lists = scanReqs.filter(r => r.method === 'GET' && r.url.searchParams.get('comp') === 'list');
  // First a probe without credentials (a blocked request's URL lands in the console), then
  // two pages: 1000 names, then the rest from the first page's NextMarker.
  const probes = lists.filter(r => !r.url.searchParams.has('sig'));
  assert.equal(probes.length, 1, 'one reachability probe without the SAS');
  assert.equal(lists.length, 3, 'two pages list 1009 blobs');
  for (const l of lists.slice(1)) {
    assert.equal(l.url.searchParams.get('prefix'), '2024/');
    assert.equal(l.url.searchParams.get('maxresults'), '1000');
    assert.ok(l.url.searchParams.has('sig'));
  }
  assert.equal(lists[1].url.searchParams.get('marker'), null);
  assert.ok(lists[2].url.searchParams.get('marker'), 'the second page starts at the NextMarker');
  const reads = scanReqs.filter(r => r.method === 'GET' && r.url.searchParams.get('comp') !== 'list');
  const others = scanReqs.filter(r => r.method !== 'OPTIONS' && !lists.includes(r) && !reads.includes(r));
  assert.deepEqual(others.map(r => `${r.method} ${r.url.pathname}`), [], 'no other request to the storage account');
  const readBytes = new Map();
  for (const r of reads) {
    const m = /^bytes=(\d+)-(\d+)$/.exec(r.range ?? '');
    assert.ok(m, `every blob GET has a Range header (${r.url.pathname}: ${r.range})`);
    const len = Number(m[2]) - Number(m[1]) + 1;
    assert.ok(len <= SMALL_LIMIT, `range of ${len} bytes`);
    const name = decodeURIComponent(r.url.pathname.split('/source/')[1]);
    readBytes.set(name, (readBytes.get(name) ?? 0) + len);
  }
  assert.deepEqual([...readBytes.keys()].sort(), photos.map(p => p.name).sort(), 'each image read, nothing else (no hidden, non-image or out-of-prefix blob)');
  for (const p of photos) {
    const size = blobs.get(p.name).length;
    if (size > SMALL_LIMIT) assert.ok(readBytes.get(p.name) < size, `${p.name}: read ${readBytes.get(p.name)} of ${size} bytes`);
  }

  // Fingerprints are the local definition's (so idempotency keys match a folder scan).
  const files = await readStore(page, 'scanFiles');
  assert.equal(files.length, 6);
  for (const f of files) {
    const blobName = f.relativePath.slice('source/'.length);
    assert.equal(f.fingerprint, fingerprint(blobs.get(blobName)), f.relativePath);
    assert.equal(f.size, blobs.get(blobName).length);
    assert.deepEqual(f.source, { kind: 'azure', connectionId: saved[0].id, container: 'source', blob: blobName });
    assert.ok(f.meta?.taken && f.meta?.gps, `${f.relativePath} has its EXIF date and GPS`);
  }

  // 7. Manifest: the location from the trip folder (the image's folder), Jane Smith resolved.
  await job.getByTestId('new-manifest').click();
  const editor = page.getByTestId('manifest-editor');
  await editor.waitFor();
  await waitText(page.getByTestId('preview-summary'), /^6 images → 2 encounters/);
  const loc = editor.getByTestId('chain-location');
  await loc.getByTestId('add-source').click();
  const link = loc.getByTestId('source-row').last();
  await link.getByTestId('source-kind').selectOption('folderName');
  await link.getByTestId('source-depth').fill('-1');
  await link.getByTestId('source-depth').press('Tab');
  await link.getByTestId('source-regex').fill('^\\d{4}-\\d{2}-\\d{2}_(.+)$');
  await link.getByTestId('source-regex').press('Tab');
  await editor.getByTestId('preview-button').click();
  const preview = page.getByTestId('preview');
  await waitText(preview.getByTestId('coverage'), /Location name100 %/);
  // Thumbnails of Azure images: a placeholder, nothing downloaded.
  await preview.scrollIntoViewIfNeeded();
  await page.getByTestId('thumb-in-azure').first().waitFor();
  assert.equal(await preview.locator('img').count(), 0, 'no image element for blobs in Azure');
  const jane = editor.getByTestId('photographer').filter({ hasText: 'Jane Smith' });
  await jane.getByTestId('phot-status').selectOption('resolved');
  await jane.getByTestId('user-search-go').click();
  await jane.getByTestId('user-hit').filter({ hasText: 'Jane Smith' }).click();
  await waitText(editor.getByTestId('phot-summary'), /Every name is resolved/);
  await editor.getByTestId('save-manifest').click();
  await waitText(editor.getByTestId('manifest-message'), /^Saved as v2/);
  const v2 = editor.locator('[data-testid=version][data-version="2"]');
  await v2.getByTestId('approve-version').click();
  await waitText(v2.getByTestId('version-status'), /Approved by this browser/);
  await shot(page, '4-approved');
  await v2.getByTestId('materialize').click();

  // 8. Review: two encounters of Azure images, approved with a license.
  const review = page.getByTestId('review-page');
  await review.getByTestId('review-row').first().waitFor({ timeout: 15000 });
  assert.equal(await review.getByTestId('review-row').count(), 2);
  assert.deepEqual(await review.getByTestId('row-source').allTextContents(), ['Azure source', 'Azure source']);
  assert.equal(await review.getByTestId('files-not-connected').count(), 0, 'no folder asked for');
  await review.getByTestId('bulk-license').selectOption('publicAttribution');
  await waitText(review.getByTestId('review-message'), /License “Public \+ Attribution” set on 2 encounter/);
  await review.getByTestId('approve-all').click();
  await waitText(review.getByTestId('approval-percent'), /^100 % approved/);
  const haro = review.locator('[data-testid=review-row]', { hasText: 'Haro Strait' });
  await haro.getByTestId('row-edit').click();
  await review.getByText('Images and where they are').click();
  const sources = await review.getByTestId('record-image-source').allTextContents();
  assert.deepEqual(sources, Array(3).fill('in Azure: container source (copied by the server at sync)'));
  await shot(page, '5-review');
  const records = await readStore(page, 'reviewRecords');
  assert.ok(records.flatMap(r => r.record.images).every(i => i.source.kind === 'azure' && i.source.container === 'source'));

  // 9. The Sync page offers the approved manifest, and Sync copies it server-side: no folder
  //    asked for, no byte of an image through the page, every image on the server once.
  await page.getByTestId('nav-sync').click();
  const row = page.getByTestId('manifest-row').first();
  await waitText(row, /v2 · source\/2024\/ \(Azure Lab archive\) — scan 1/);
  assert.deepEqual(await row.locator('td.num').allTextContents(), ['2', '6']);
  const beforeSync = blobRequests.length;
  const copyBodies = [];
  const onCopy = req => { if (req.url().endsWith('/api/v1/upload-sessions/copy')) copyBodies.push(req.postData()); };
  page.on('request', onCopy);
  await row.getByTestId('sync-manifest').click();
  await page.getByTestId('summary').waitFor({ timeout: 60000 });
  page.off('request', onCopy);
  assert.match(await page.getByTestId('summary').textContent(), /^6 uploaded, 0 already on the server, 0 failed/);
  await shot(page, '6-synced');
  assert.deepEqual(blobRequests.slice(beforeSync).map(r => `${r.method} ${r.url.pathname}`), [],
    'the sync made no request from the page to the source storage');
  const copied = copyBodies.flatMap(b => JSON.parse(b).items);
  assert.equal(copied.length, 6, 'every image went to the server as a copy');
  const encSync = await readStore(page, 'encounterSync');
  assert.equal(encSync.length, 2);
  let onServer = 0;
  for (const e of encSync) {
    assert.equal(e.status.status, 'synced', JSON.stringify(e));
    const detail = await fetch(`${stack.appUrl}/api/v1/encounters/${e.remote.id}`, { headers: { Authorization: `Bearer ${stack.apiKey}` } }).then(r => r.json());
    onServer += detail.images.length;
  }
  assert.equal(onServer, 6, 'six images on the server, none twice');
  // The originals in the server's container: each photo once, byte-exact (copied from the source).
  const stored = await readContainer(stack.blobService, stack.container);
  const synced = [...blobs.keys()].filter(n => /Haro Strait|Boundary Pass/.test(n));
  assert.equal(synced.length, 6);
  for (const name of synced) {
    const file = name.split('/').pop();
    const hits = [...stored.keys()].filter(k => /^encounters\/\d+\/[^/]+\/[^/]+$/.test(k) && k.endsWith('/' + file));
    assert.equal(hits.length, 1, `${file} stored once: ${hits.join(', ')}`);
    assert.ok(stored.get(hits[0]).equals(blobs.get(name)), `${file} byte-exact`);
  }

  // 10. A connection string: the page signs its own container and blob SAS from the key
  //     (checked by Azurite), and a scan with it reads the same fingerprints.
  await page.getByTestId('nav-settings').click();
  await card.locator('input[name=azure-name]').fill('Key access');
  await card.locator('input[name=azure-account]').fill(AZURITE_ACCOUNT);
  await card.getByTestId('azure-auth-cs').check();
  const cs = `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${stack.blobUrl};`;
  await card.locator('input[name=azure-connection-string]').fill(cs);
  await card.locator('input[name=azure-container]').fill('source');
  await card.getByTestId('azure-add').click();
  await waitText(card.getByTestId('azure-added'), /Connection “Key access” added/);
  const keyRow = card.getByTestId('azure-connection').filter({ hasText: 'Key access' });
  assert.match(await keyRow.textContent(), /connection string \(AccountKey ••••••\)/);
  assert.ok(!(await page.content()).includes(AZURITE_KEY), 'the account key is not on the page');
  await page.getByTestId('nav-discover').click();
  await azure.locator('select[name=azure-connection]').selectOption({ label: 'Key access (devstoreaccount1)' });
  await azure.locator('input[name=azure-scan-container]').fill('source');
  await azure.locator('input[name=azure-scan-prefix]').fill('2024/2024-07-16');
  await azure.getByTestId('azure-scan').click();
  const keyJob = page.getByTestId('scan-job').filter({ hasText: 'Azure Key access' });
  await keyJob.getByTestId('scan-job-state').filter({ hasText: 'Done' }).waitFor({ timeout: 30000 });
  assert.match(await keyJob.getByTestId('scan-job-counts').textContent(), /^3 files: 3 images/);
  const keyFiles = (await readStore(page, 'scanFiles')).filter(f => f.source.connectionId !== saved[0].id);
  assert.equal(keyFiles.length, 3);
  for (const f of keyFiles) assert.equal(f.fingerprint, fingerprint(blobs.get(f.source.blob)), f.relativePath);
  for (const r of blobRequests.filter(r => r.method === 'GET' && r.url.searchParams.get('comp') !== 'list')) {
    assert.ok(r.range, `every blob GET has a Range header (${r.url.pathname})`);
  }

  // 11. Secrets: never in the console, the activity log or the scan rows; the connections
  //     are deletable.
  // Each signature as sent (percent-encoded) and decoded, and the account key.
  const tokens = [noList, expired, good, forged];
  const secrets = [...tokens.map(sigOf), ...tokens.map(t => new URLSearchParams(t).get('sig') && /sig=([^&]+)/.exec(t)[1]), AZURITE_KEY];
  const activity = JSON.stringify(await readStore(page, 'activity'));
  assert.match(activity, /Storage connection added/);
  for (const s of secrets) {
    assert.ok(!consoleLines.some(l => l.includes(s)), `no signature in the console: ${consoleLines.filter(l => l.includes(s)).join('\n')}`);
    assert.ok(!activity.includes(s), 'no signature in the activity log');
    assert.ok(!JSON.stringify(await readStore(page, 'scanFiles')).includes(s), 'no signature in the scan rows');
    assert.ok(!JSON.stringify(await readStore(page, 'scanJobs')).includes(s), 'no signature in the scan jobs');
  }
  await page.getByTestId('nav-settings').click();
  for (let i = 0; i < 2; i++) {
    await card.getByTestId('azure-connection-delete').first().click();
    await card.getByTestId('azure-connection-delete-confirm').click();
    await page.waitForFunction(n => document.querySelectorAll('[data-testid=azure-connection]').length === n, 1 - i);
  }
  await waitText(card.getByTestId('azure-connection-list'), /No connection yet/);
  assert.deepEqual(await readStore(page, 'connections'), []);
  // The refused checks (403, unreachable) log a browser network error; nothing else may.
  const unexpected = consoleErrors.filter(e => !/Failed to load resource|net::ERR_CONNECTION_REFUSED|CORS|Content Security Policy/.test(e));
  assert.deepEqual(unexpected, []);
  await context.close();
});
