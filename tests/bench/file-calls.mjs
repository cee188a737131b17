// What each way of handing a picked file on costs the page's main thread, in calls to the
// browser process: for each variant, a fresh `<input webkitdirectory>` of the same folder, the
// variant done once per File in a loop, and a Chromium trace (mojom category) of that loop;
// prints the mojo messages, replies and traced steps that came once or more per file, and the
// loop's time per file. A synchronous call shows as a `Receive mojo reply` (the page waits for
// it); messages without a reply do not block the page. Used to choose what the scan posts to
// its reader workers (src/discovery/reader.rs), against what the I/O floor does (`slice`).
//
//   node tests/bench/file-calls.mjs [folder]   (default: the scan benchmark's 2500-file folder)
//   FILE_CALLS=post,slice node tests/bench/file-calls.mjs   (only these variants)
//
// Variants: size (`size` + `lastModified`), post (postMessage of the File to a worker),
// sizeThenPost, slice (`slice(0, 65536)`, what the floor does before its read), postSlice
// (that slice posted), postList (the whole FileList in one message).
import http from 'node:http';
import path from 'node:path';
import os from 'node:os';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS } from '../e2e/support/env.mjs';

const DIR = process.argv[2] || path.join(process.env.BENCH_DATA || path.join(os.tmpdir(), 'finsync-bench-data'), 'scan-2500', 'Survey-2500');
if (!existsSync(DIR)) throw new Error(`no folder ${DIR}: give one, or run tests/bench/scan.mjs once (it makes it)`);
const VARIANTS = (process.env.FILE_CALLS || 'size,post,sizeThenPost,slice,postSlice,postList').split(',');

const server = http.createServer((_, res) => {
  res.setHeader('content-type', 'text/html');
  res.end(`<!doctype html><body>${VARIANTS.map((v, i) => `<input type=file webkitdirectory id="v${i}">`).join('')}</body>`);
}).listen(0, '127.0.0.1');
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await page.evaluate(() => {
    window.sink = new Worker(URL.createObjectURL(new Blob(['onmessage = () => {}'], { type: 'text/javascript' })));
  });
  for (const [i, v] of VARIANTS.entries()) {
    await page.setInputFiles(`#v${i}`, DIR);
    await browser.startTracing(page, { categories: ['mojom', 'toplevel'] });
    const { n, ms } = await page.evaluate(([i, v]) => {
      const input = document.getElementById(`v${i}`);
      const files = [...input.files];
      let s = 0;
      const t = performance.now();
      if (v === 'postList') sink.postMessage(input.files);
      else for (const f of files) {
        if (v === 'size') s += f.size + f.lastModified;
        else if (v === 'post') sink.postMessage(f);
        else if (v === 'sizeThenPost') { s += f.size + f.lastModified; sink.postMessage(f); }
        else if (v === 'slice') s += f.slice(0, 65536).size;
        else if (v === 'postSlice') sink.postMessage(f.slice(0, 65536));
        else throw new Error(`unknown variant ${v}`);
      }
      return { n: files.length, ms: performance.now() - t, s };
    }, [i, v]);
    const events = JSON.parse((await browser.stopTracing()).toString()).traceEvents;
    const counts = new Map();
    for (const e of events) {
      if (!['X', 'B', 'I', 'i'].includes(e.ph)) continue;
      const tag = e.args?.chrome_mojo_event_info?.mojo_interface_tag;
      const key = tag ? `${e.name} ${tag}` : e.name;
      counts.set(key, (counts.get(key) || 0) + 1);
    }
    console.log(`${v} (${n} files, ${(ms * 1000 / n).toFixed(0)} µs per file in the loop):`);
    for (const [k, c] of [...counts].filter(([k, c]) => c >= n * 0.9 && /mojo|Snapshot|Register|Serialized/.test(k)).sort((a, b) => b[1] - a[1])) {
      console.log(`  ${(c / n).toFixed(2)} per file  ${k}`);
    }
  }
} finally {
  await browser.close();
  server.close();
}
