// finsync's service worker: the offline app shell.
//
// * It keeps the files of one build (index.html and the hashed JS, wasm and CSS, the manifest
//   and icons) in a cache named after that build, so the app opens with no network.
// * It answers only same-origin GETs of exactly those files, plus page loads of the app's own
//   address (its scope). Everything else (the sync API, blob uploads, /demo-config.json, the
//   server's encounter pages) goes to the network untouched and is never cached.
// * A new deploy means a new sw.js (the list and version below change). The browser installs
//   it next to the running one; it waits until the page asks it to take over, which the page
//   does only when the person presses "Reload" in the update prompt, never during a sync
//   (public/sw-register.js, src/app.rs).
//
// scripts/postbuild.mjs rewrites the two lines below after each release build from the files
// in dist/. As copied by trunk (no post-build step: `trunk serve`), the list is empty and the
// worker caches nothing.
const VERSION = 'dev';
const PRECACHE = [];

const PREFIX = 'finsync-shell-';
const CACHE = PREFIX + VERSION;
const url = (path) => new URL(path, self.location).href;
const FILES = new Set(PRECACHE.map(url));
const INDEX = url('index.html');
const SCOPE = self.registration.scope;

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    if (PRECACHE.length === 0) return;
    const cache = await caches.open(CACHE);
    // Hashed names never change, so the copies the page just loaded serve (no second
    // download); everything else is revalidated with the server first.
    const mode = (p) => (/-[0-9a-f]{12,16}(_bg)?\.\w+$/.test(p) ? 'default' : 'no-cache');
    await cache.addAll(PRECACHE.map((p) => new Request(url(p), { cache: mode(p) })));
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'finsync-activate') self.skipWaiting();
});

/** The cached file that answers `request`, or null to let it go to the network. */
function cachedKey(request) {
  if (request.method !== 'GET' || FILES.size === 0) return null;
  const u = new URL(request.url);
  if (u.origin !== self.location.origin) return null;
  const bare = u.origin + u.pathname;
  if (request.mode === 'navigate') return bare === SCOPE || bare === INDEX ? INDEX : null;
  return FILES.has(bare) && u.search === '' ? bare : null;
}

self.addEventListener('fetch', (event) => {
  const key = cachedKey(event.request);
  if (!key) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const hit = await cache.match(key);
    return hit || fetch(event.request);
  })());
});
