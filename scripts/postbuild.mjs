// The post-build step of the release bundle: run after `trunk build --release` (make dist,
// make run, make test and make bench do). It works on dist/ (or the folder given as the first
// argument) in place and can run again on the same folder:
//
// 1. trunk's inline loader script moves to its own file, loader-<hash>.js, so the page has no
//    inline script at all and the Content-Security-Policy is the same for every build
//    (`script-src 'self' 'wasm-unsafe-eval'`, no per-build hash to put into host configs);
// 2. the service worker's precache list: every file of the build except sw.js, the
//    compressed copies, robots.txt and the host configs below, with a version made from their
//    contents, written into dist/sw.js — so a new deploy is a new sw.js and the list is never
//    typed in;
// 3. the security headers for static hosts, as dist/_headers (Netlify, Cloudflare Pages) and
//    dist/staticwebapp.config.json (Azure Static Web Apps); connect-src is 'self' plus the
//    origins in $CONNECT_SRC (space-separated: the sync server, the blob endpoint);
//    docs/deploy.md shows the same headers for nginx and Caddy;
// 4. precompressed copies (.br, quality 11, and .gz, level 9) of every compressible file,
//    next to it, for servers that serve them (the reference server does; so can nginx and
//    Caddy);
// 5. a summary: sizes, the precache version, the policy.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, readdirSync, statSync, unlinkSync, existsSync } from 'node:fs';
import { gzipSync, brotliCompressSync, constants } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.resolve(process.argv[2] ?? path.join(ROOT, 'dist'));
const WASM_BUDGET_GZIP = 300 * 1000;
const COMPRESSIBLE = /\.(html|js|mjs|wasm|css|json|webmanifest|svg|txt|ico|map)$/;
const HOST_CONFIGS = new Set(['_headers', 'staticwebapp.config.json']);
const NOT_PRECACHED = new Set(['sw.js', 'robots.txt', ...HOST_CONFIGS]);

const fail = (msg) => { console.error(`postbuild: ${msg}`); process.exit(1); };
const sha256 = (data, enc) => createHash('sha256').update(data).digest(enc);

function walk(dir, rel = '') {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue; // trunk's .stage
    const full = path.join(dir, name);
    const r = rel ? `${rel}/${name}` : name;
    if (statSync(full).isDirectory()) out.push(...walk(full, r));
    else out.push(r);
  }
  return out;
}

if (!existsSync(path.join(DIST, 'index.html'))) fail(`${DIST}/index.html is missing: run trunk build --release first`);
let html = readFileSync(path.join(DIST, 'index.html'), 'utf8');

// 1. trunk's inline loader → loader-<hash>.js, at the public URL trunk was given
// (--public-url: where the loader imports the JS glue from).
const inline = /<script type="module">(\s*import init[^\n]* from '([^']*\/)[^'/]+\.js';[\s\S]*?)<\/script>/.exec(html);
let base;
if (inline) {
  base = inline[2];
  const name = `loader-${sha256(inline[1], 'hex').slice(0, 16)}.js`;
  writeFileSync(path.join(DIST, name), inline[1].trim() + '\n');
  html = html.replace(inline[0], `<script type="module" src="${base}${name}"></script>`);
  writeFileSync(path.join(DIST, 'index.html'), html);
} else {
  const moved = /<script type="module" src="([^"]*\/)loader-[0-9a-f]{16}\.js"><\/script>/.exec(html);
  if (!moved) fail('index.html has no trunk loader script (import init … from …)');
  base = moved[1];
}
// Inline scripts left (none from trunk), hashed over their exact text as browsers do.
const scriptHashes = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)]
  .filter(([, attrs]) => !/\ssrc\s*=/i.test(` ${attrs}`))
  .map(([, , body]) => `'sha256-${sha256(Buffer.from(body, 'utf8'), 'base64')}'`);

// Start from what trunk wrote: drop compressed copies of an earlier run.
for (const f of walk(DIST)) if (/\.(br|gz)$/.test(f)) unlinkSync(path.join(DIST, f));

// 2. The precache list and version, into sw.js.
const files = walk(DIST).filter((f) => !NOT_PRECACHED.has(f));
const version = sha256(files.map((f) => `${f}\0${sha256(readFileSync(path.join(DIST, f)), 'hex')}\n`).join(''), 'hex').slice(0, 16);
const swPath = path.join(DIST, 'sw.js');
if (!existsSync(swPath)) fail('dist/sw.js is missing: index.html must copy public/ into dist/');
let sw = readFileSync(swPath, 'utf8');
const withVersion = sw.replace(/^const VERSION = .*;$/m, `const VERSION = '${version}';`)
  .replace(/^const PRECACHE = .*;$/m, `const PRECACHE = ${JSON.stringify(files)};`);
if (withVersion === sw && !sw.includes(`'${version}'`)) fail('dist/sw.js has no `const VERSION = …;` / `const PRECACHE = …;` lines to fill in');
sw = withVersion;
writeFileSync(swPath, sw);

// 3. Headers for static hosts.
const connect = (process.env.CONNECT_SRC ?? '').split(/\s+/).filter(Boolean);
for (const c of connect) if (!/^https?:\/\/[^\s'";,/]+$/.test(c)) fail(`CONNECT_SRC entry ${c} is not an origin (https://host[:port])`);
const csp = [
  "default-src 'self'",
  `script-src 'self' 'wasm-unsafe-eval' ${scriptHashes.join(' ')}`.trim(),
  "style-src 'self'",
  `img-src 'self' blob: data:${connect[0] ? ' ' + connect[0] : ''}`,
  `connect-src 'self'${connect.map((c) => ' ' + c).join('')}`,
  "worker-src 'self'",
  "manifest-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');
const headers = {
  'Content-Security-Policy': csp,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Permissions-Policy': 'accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()',
  'Cross-Origin-Opener-Policy': 'same-origin',
};
const IMMUTABLE = 'public, max-age=31536000, immutable';
// Trunk's hash is hex without leading zeros (12–16 digits; see static_files.rs is_hashed).
const hashed = files.filter((f) => /-[0-9a-f]{12,16}(_bg)?\.[a-z]+$/.test(f));
const revalidated = ['', ...files.filter((f) => !hashed.includes(f)), 'sw.js'];
const cacheRules = [
  ...revalidated.map((f) => [`${base}${f}`, 'no-cache']),
  ...hashed.map((f) => [`${base}${f}`, IMMUTABLE]),
];
const block = (route, h) => `${route}\n${Object.entries(h).map(([k, v]) => `  ${k}: ${v}`).join('\n')}\n`;
writeFileSync(path.join(DIST, '_headers'), [
  block(`${base}*`, headers),
  ...cacheRules.map(([route, cc]) => block(route, { 'Cache-Control': cc })),
].join('\n'));
writeFileSync(path.join(DIST, 'staticwebapp.config.json'), JSON.stringify({
  globalHeaders: headers,
  routes: cacheRules.map(([route, cc]) => ({ route, headers: { 'Cache-Control': cc } })),
  mimeTypes: { '.wasm': 'application/wasm', '.webmanifest': 'application/manifest+json' },
}, null, 2) + '\n');

// 4. Precompressed copies, where they are smaller.
let wasm = null;
for (const f of walk(DIST)) {
  if (!COMPRESSIBLE.test(f) || HOST_CONFIGS.has(f)) continue;
  const full = path.join(DIST, f);
  const raw = readFileSync(full);
  const gz = gzipSync(raw, { level: 9 });
  const br = brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length } });
  if (gz.length < raw.length) writeFileSync(`${full}.gz`, gz);
  if (br.length < raw.length) writeFileSync(`${full}.br`, br);
  if (f.endsWith('_bg.wasm')) wasm = { f, raw: raw.length, gz: gz.length, br: br.length };
}

// 5. Summary.
const kb = (b) => `${(b / 1000).toFixed(1)} KB`;
console.log(`postbuild: ${DIST} (public URL ${base})`);
if (wasm) console.log(`  ${wasm.f}: ${kb(wasm.raw)} raw, ${kb(wasm.gz)} gzip, ${kb(wasm.br)} brotli`);
console.log(`  service worker ${version}: ${files.length} files precached`);
console.log(`  Content-Security-Policy: ${csp}`);
if (wasm && wasm.gz > WASM_BUDGET_GZIP) console.log(`  warning: the wasm is over its budget of ${kb(WASM_BUDGET_GZIP)} gzip`);
