// First load to interactive in headless Chromium, against the release bundle as the reference
// server serves it (precompressed, with its headers). Prints JSON for tests/bench/report.mjs.
//
// Each cold run is a fresh browser context (empty HTTP cache, no service worker, no IndexedDB);
// each warm run reloads a page whose service worker has the bundle cached. Times run from
// navigation start (performance.now() = 0) to
//   * interactive: the folder input is in the page and enabled (the app is mounted and usable);
//   * key ready:   the status bar says "API key ready" (IndexedDB opened, demo settings
//                  fetched, the server's status answered).
// Cold runs go once over loopback and once with Chromium's network throttled to a modest
// connection (THROTTLE below), where the bytes on the wire count.
import { startStack, launchBrowser } from '../e2e/support/env.mjs';

const RUNS = Number(process.env.FINSYNC_LOAD_RUNS ?? 10);
const THROTTLE = { offline: false, latency: 40, downloadThroughput: (10e6 / 8), uploadThroughput: (5e6 / 8) };

function watcher() {
  window.__marks = {};
  const check = () => {
    const m = window.__marks;
    const input = document.querySelector('[data-testid=folder-input]');
    if (m.interactive === undefined && input && !input.disabled) m.interactive = performance.now();
    const status = document.querySelector('[data-testid=key-status]');
    if (m.ready === undefined && status?.textContent.includes('API key ready')) m.ready = performance.now();
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
}

async function measure(page, load) {
  await load();
  await page.waitForFunction(() => window.__marks?.ready !== undefined && window.__marks?.interactive !== undefined, null, { timeout: 30000 });
  return page.evaluate(() => {
    const bytes = performance.getEntriesByType('resource').concat(performance.getEntriesByType('navigation'))
      .reduce((a, e) => a + (e.transferSize || 0), 0);
    return { ...window.__marks, bytes };
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const summary = (runs) => ({
  interactiveMs: median(runs.map((r) => r.interactive)),
  readyMs: median(runs.map((r) => r.ready)),
  bytes: median(runs.map((r) => r.bytes)),
  all: runs.map((r) => ({ interactive: Math.round(r.interactive), ready: Math.round(r.ready) })),
});

const stack = await startStack();
const browser = await launchBrowser();
try {
  const cold = [];
  const throttled = [];
  const warm = [];
  for (let i = 0; i < RUNS; i++) {
    for (const [sink, throttle] of [[cold, false], [throttled, true]]) {
      const context = await browser.newContext();
      await context.addInitScript(watcher);
      const page = await context.newPage();
      if (throttle) {
        const cdp = await context.newCDPSession(page);
        await cdp.send('Network.enable');
        await cdp.send('Network.emulateNetworkConditions', THROTTLE);
      }
      sink.push(await measure(page, () => page.goto(stack.appUrl)));
      if (!throttle) {
        // Warm: the service worker has installed and controls the page; reload from its cache.
        await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 30000 });
        warm.push(await measure(page, () => page.reload()));
      }
      await context.close();
    }
  }
  const version = browser.version();
  console.log(JSON.stringify({
    runs: RUNS,
    chromium: version,
    throttle: { rttMs: THROTTLE.latency, downMbps: 10, upMbps: 5 },
    cold: summary(cold),
    coldThrottled: summary(throttled),
    warm: summary(warm),
  }, null, 2));
} finally {
  await browser.close();
  await stack.stop();
}
