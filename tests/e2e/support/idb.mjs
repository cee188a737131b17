// Writes the app's database as an older build (schema v4) left it, from a page at the app's
// origin where the app is not running (e.g. `${appUrl}/api/v1/status`). Opening the app then
// runs its own v4 → v5 upgrade. Records are plain objects in the app's stored format
// (camelCase, tagged statuses: see src/store.rs).

/** Runs in the page: deletes `finsync`, creates the v4 stores, writes `records`. */
function writeV4InPage({ encounters = [], encounterSync = [], imageSync = [], settings = null }) {
  const req = (r) => new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
  return (async () => {
    await new Promise((resolve, reject) => {
      const d = indexedDB.deleteDatabase('finsync');
      d.onsuccess = resolve; d.onerror = () => reject(d.error); d.onblocked = () => reject(new Error('finsync is open in another page'));
    });
    const open = indexedDB.open('finsync', 4);
    open.onupgradeneeded = () => {
      const db = open.result;
      db.createObjectStore('settings');
      db.createObjectStore('encounters', { keyPath: 'localId' });
      db.createObjectStore('encounterSync', { keyPath: 'localId' });
      db.createObjectStore('imageSync', { keyPath: ['encounter', 'image'] });
      db.createObjectStore('blocks');
      db.createObjectStore('handles');
      db.createObjectStore('activity', { autoIncrement: true });
      db.createObjectStore('scanJobs', { keyPath: 'id' });
      db.createObjectStore('scanFiles', { keyPath: ['jobId', 'relativePath'] }).createIndex('byJob', 'jobId');
      db.createObjectStore('manifests', { keyPath: 'id' });
      db.createObjectStore('reviewRecords', { keyPath: ['manifestId', 'localId'] }).createIndex('byManifest', 'manifestId');
    };
    const db = await req(open);
    const tx = db.transaction(['settings', 'encounters', 'encounterSync', 'imageSync'], 'readwrite');
    if (settings) tx.objectStore('settings').put(settings, 'settings');
    for (const e of encounters) tx.objectStore('encounters').put(e);
    for (const r of encounterSync) tx.objectStore('encounterSync').put(r);
    for (const r of imageSync) tx.objectStore('imageSync').put(r);
    await new Promise((resolve, reject) => { tx.oncomplete = resolve; tx.onerror = () => reject(tx.error); tx.onabort = () => reject(tx.error); });
    db.close();
    return { encounters: encounters.length, images: imageSync.length };
  })();
}

/** Every record of the given stores of the app's database (at its current version). */
function readInPage(stores) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open('finsync');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction(stores, 'readonly');
      const out = {};
      for (const s of stores) {
        const r = tx.objectStore(s).getAll();
        r.onsuccess = () => { out[s] = r.result; };
      }
      tx.oncomplete = () => { db.close(); resolve(out); };
      tx.onerror = () => reject(tx.error);
    };
  });
}

/** Navigates `page` to a page of the app's origin where the app does not run. */
export async function leaveApp(page, appUrl) {
  await page.goto(`${appUrl}/api/v1/status`);
}

export async function writeV4(page, records) {
  return page.evaluate(writeV4InPage, records);
}

/** Like `writeV4` with `libraryV4(spec)`, generated in the page (no 30 MB over the wire). */
export async function writeLibraryV4(page, spec) {
  return page.evaluate(`(${writeV4InPage})((${libraryV4})(${JSON.stringify(spec)}))`);
}

export async function readStores(page, stores) {
  return page.evaluate(readInPage, stores);
}

/** `n` planned encounters of `perEncounter` images each, every image Complete in `imageSync`
 *  when `synced`, for population `populationId` (what an older build would have stored). */
export function libraryV4({ encounters: n, perEncounter, populationId = 1, synced = true }) {
  const encounters = [];
  const imageSync = [];
  const encounterSync = [];
  for (let e = 0; e < n; e++) {
    const localId = `folder:Survey ${e}`;
    const images = [];
    const sources = [];
    for (let i = 0; i < perEncounter; i++) {
      const name = `IMG_${String(i).padStart(5, '0')}.JPG`;
      const key = `v1-${(e * perEncounter + i).toString(16).padStart(64, '0')}`;
      const imageId = `Survey ${e}/${name}#${key.slice(3, 15)}`;
      images.push({ localId: imageId, fileName: name, size: 2_000_000 + i, contentType: 'image/jpeg', idempotencyKey: key, status: { status: 'pending' } });
      sources.push({ relativePath: `Survey ${e}/${name}`, lastModified: 1_720_000_000_000 + i });
      if (synced) imageSync.push({ encounter: localId, image: imageId, status: { status: 'complete', fileItemId: e * perEncounter + i + 1 } });
    }
    encounters.push({
      localId, populationId,
      plan: { localId, fields: { date: '2024-07-15', time: null, locationName: `Survey ${e}`, gps: null, photographer: 'Unknown photographer', notes: null }, remote: null, images },
      sources,
    });
    if (synced) encounterSync.push({ localId, remote: { id: e + 1, url: `/encounters/${e + 1}` }, status: { status: 'synced' } });
  }
  return { encounters, encounterSync, imageSync };
}
