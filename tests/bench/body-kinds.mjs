// How fast this Chromium sends one request body of each kind: 8 PUTs of 8 MiB, one after the
// other, to a local sink (a node http server that counts the bytes; no Azurite), with the body
//   a slice of a File (what finsync sends), the same bytes as an ArrayBuffer view (XHR and
//   fetch), and as a Blob made of that ArrayBuffer; and the 8 slices read with arrayBuffer().
// Why: a block's bytes are read twice in finsync's upload (once by the hashing worker, once
// for the request); sending the bytes the worker already read would avoid the second read,
// if in-memory bodies were not this much slower here. Prints one JSON object of milliseconds.
// Run under the machine's benchmark lock: flock /tmp/finsync-bench.lock node tests/bench/body-kinds.mjs
import http from 'node:http';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const MiB = 1024 * 1024;
const dir = mkdtempSync(path.join(os.tmpdir(), 'finsync-body-kinds-'));
const file = path.join(dir, 'big.bin');
writeFileSync(file, Buffer.alloc(64 * MiB, 7));
const sink = http.createServer((req, res) => {
  if (req.method === 'GET') { res.setHeader('content-type', 'text/html'); res.end('<input type=file id=f>'); return; }
  let n = 0;
  req.on('data', (d) => { n += d.length; });
  req.on('end', () => { res.statusCode = 201; res.end(String(n)); });
});
await new Promise((r) => sink.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${sink.address().port}/`;
const { chromium } = await import('playwright-core');
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
try {
  const page = await browser.newPage();
  await page.goto(url);
  await page.setInputFiles('#f', file);
  const ms = await page.evaluate(async (url) => {
    const f = document.getElementById('f').files[0];
    const block = 8 * 1024 * 1024;
    const xhr = (body) => new Promise((ok, ko) => {
      const x = new XMLHttpRequest(); x.open('PUT', url);
      x.onload = () => (x.responseText === String(block) ? ok() : ko(new Error(`sink got ${x.responseText}`)));
      x.onerror = ko; x.send(body);
    });
    const bytes = await f.slice(0, block).arrayBuffer();
    const kinds = {
      fileSlice: (i) => xhr(f.slice(i * block, (i + 1) * block)),
      arrayBuffer: () => xhr(new Uint8Array(bytes)),
      blobOfArrayBuffer: () => xhr(new Blob([bytes])),
      fetchArrayBuffer: async () => { const r = await fetch(url, { method: 'PUT', body: new Uint8Array(bytes) }); if (await r.text() !== String(block)) throw new Error('short'); },
      readSlice: (i) => f.slice(i * block, (i + 1) * block).arrayBuffer(),
    };
    const out = {};
    for (const [k, run] of Object.entries(kinds)) {
      const t = performance.now();
      for (let i = 0; i < 8; i++) await run(i);
      out[k] = Math.round(performance.now() - t);
    }
    return out;
  }, url);
  console.log(JSON.stringify({ mib: 64, ms }));
} finally {
  await browser.close();
  sink.close();
  rmSync(dir, { recursive: true, force: true });
}
