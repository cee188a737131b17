// Registers the service worker (sw.js, next to this file) and tells the app when a new
// version of it is installed and waiting:
//   * sets `data-update-ready` on <html> and fires `finsync-update-ready` on window;
//   * on `finsync-update-apply` (the app's "Reload" button), lets the waiting worker take
//     over and reloads the page once it controls it.
// The app decides when to offer the reload (never during a sync); this file never reloads
// by itself.
const HOURLY = 60 * 60 * 1000;

function announce() {
  document.documentElement.setAttribute('data-update-ready', '');
  window.dispatchEvent(new Event('finsync-update-ready'));
}

async function register() {
  const sw = navigator.serviceWorker;
  const reg = await sw.register(new URL('sw.js', import.meta.url), { updateViaCache: 'none' });
  // An installed worker is an update only if another one already runs this page; the very
  // first install is not.
  const watch = (worker) => {
    if (!worker) return;
    const check = () => { if (worker.state === 'installed' && sw.controller) announce(); };
    worker.addEventListener('statechange', check);
    check();
  };
  if (reg.waiting && sw.controller) announce();
  watch(reg.installing);
  reg.addEventListener('updatefound', () => watch(reg.installing));

  window.addEventListener('finsync-update-apply', () => {
    if (!reg.waiting) { window.location.reload(); return; }
    sw.addEventListener('controllerchange', () => window.location.reload(), { once: true });
    reg.waiting.postMessage({ type: 'finsync-activate' });
  });

  // Look for a new deploy now and then, and whenever the tab comes back into view.
  const update = () => reg.update().catch(() => {});
  setInterval(update, HOURLY);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') update();
  });
}

// After the page has loaded, so the worker's downloads never compete with the app's own.
function start() {
  register().catch((e) => console.warn('finsync: no offline support:', e.message));
}
if ('serviceWorker' in navigator) {
  if (document.readyState === 'complete') start();
  else window.addEventListener('load', start, { once: true });
}
