// The Sync page with a big library: 100,000 images (1,000 encounters of 100) in IndexedDB.
// Prints JSON for tests/bench/report.mjs.
//
// The library is written as an older build stored it (schema v4, tests/e2e/support/idb.mjs),
// so the app's own v4 → v5 upgrade builds the aggregates on the first open (timed once).
// Then each run navigates to the app afresh and times, from navigation start
// (performance.now() = 0), until the card shows the library's counts (images synced =
// 100000). Side by side in the same browser: the same page with an empty library, and the
// bare IndexedDB read the page did before v5 (getAll of every planned encounter and image
// status, without even decoding them into Rust).
import { startStack, launchBrowser } from '../e2e/support/env.mjs';
import { leaveApp, writeLibraryV4 } from '../e2e/support/idb.mjs';

const RUNS = Number(process.env.FINSYNC_RENDER_RUNS ?? 7);
const ENCOUNTERS = 1000;
const PER_ENCOUNTER = 100;
const IMAGES = ENCOUNTERS * PER_ENCOUNTER;

function watcher(want) {
  window.__rendered = undefined;
  const check = () => {
    const dl = document.querySelector('[data-testid=counts]');
    const synced = document.querySelector('[data-testid=count-images-synced]');
    if (window.__rendered === undefined && dl?.dataset.loaded === 'true' && synced?.textContent.trim() === want) {
      window.__rendered = performance.now();
    }
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
}

async function timeToCounts(page, url) {
  await page.goto(url);
  await page.waitForFunction(() => window.__rendered !== undefined, null, { timeout: 120000 });
  return page.evaluate(() => window.__rendered);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const stack = await startStack();
const browser = await launchBrowser();
try {
  // The big library.
  const big = await browser.newContext();
  await big.addInitScript(watcher, String(IMAGES));
  const page = await big.newPage();
  await leaveApp(page, stack.appUrl);
  const t0 = Date.now();
  await writeLibraryV4(page, { encounters: ENCOUNTERS, perEncounter: PER_ENCOUNTER, populationId: 1, synced: true });
  const seedSeconds = (Date.now() - t0) / 1000;
  const upgradeMs = await timeToCounts(page, stack.appUrl);

  // The empty library, in its own context.
  const empty = await browser.newContext();
  await empty.addInitScript(watcher, '0');
  const emptyPage = await empty.newPage();
  await timeToCounts(emptyPage, stack.appUrl);

  const bigRuns = [];
  const emptyRuns = [];
  const rawRuns = [];
  for (let i = 0; i < RUNS; i++) {
    bigRuns.push(await timeToCounts(page, stack.appUrl));
    emptyRuns.push(await timeToCounts(emptyPage, stack.appUrl));
    // What the page read at start before v5: every plan and every image status.
    rawRuns.push(await page.evaluate(() => new Promise((resolve, reject) => {
      const t = performance.now();
      const open = indexedDB.open('finsync');
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const db = open.result;
        const tx = db.transaction(['encounters', 'encounterSync', 'imageSync'], 'readonly');
        let n = 0;
        for (const s of ['encounters', 'encounterSync', 'imageSync']) tx.objectStore(s).getAll().onsuccess = (e) => { n += e.target.result.length; };
        tx.oncomplete = () => { db.close(); resolve({ ms: performance.now() - t, records: n }); };
      };
    })));
  }
  const images = await page.evaluate(() => document.querySelector('[data-testid=count-images-synced]').textContent.trim());
  console.log(JSON.stringify({
    runs: RUNS,
    chromium: browser.version(),
    encounters: ENCOUNTERS,
    images: IMAGES,
    shownImagesSynced: Number(images),
    seedSeconds,
    upgradeMs,
    renderMs: median(bigRuns),
    emptyMs: median(emptyRuns),
    rawReadMs: median(rawRuns.map(r => r.ms)),
    rawRecords: rawRuns[0].records,
    all: bigRuns.map(Math.round),
    allEmpty: emptyRuns.map(Math.round),
  }, null, 2));
  await big.close();
  await empty.close();
} finally {
  await browser.close();
  await stack.stop();
}
