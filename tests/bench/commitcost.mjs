// What each step of a commit costs Azurite, as its container fills: a fresh Azurite (as the
// upload bench starts one), then BATCHES batches of 25 images of 5 MiB. Per batch: 25 Put Blob
// (4 in flight, as the app's pool), then each commit step the server makes for the 25 — in
// the server's order and with its concurrency (4): Lease Blob acquire (infinite), Snapshot
// Blob, ranged Get Blob of the snapshot (96 KiB). Azurite's CPU (utime + stime of its process,
// /proc/<pid>/stat) is read around each step. Prints one JSON line per batch and a summary.
// The Azure SDK makes the calls (the client's cost is not counted). CPU is read in clock
// ticks (10 ms), so per-call figures of one batch are coarse; the summary's totals are not.
// Experiments: COMMIT_STEPS=lease,snapshot,head (default) chooses the steps and their order;
// `headBase` is a ranged Get of the base blob, `props` a HEAD of the snapshot. HEAD_BYTES
// (96 KiB, the server's read) sets the ranged reads' length; BODY_BYTES (5 MiB) the blobs'
// size — a small one fills the container faster (BATCHES=80 BODY_BYTES=131072: 2,000 images).
//
//   flock /tmp/finsync-bench.lock node tests/bench/commitcost.mjs
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { startAzurite } from '../e2e/support/env.mjs';

const BATCHES = Number(process.env.BATCHES || 8);
const BATCH = 25;
const STEPS = (process.env.COMMIT_STEPS || 'lease,snapshot,head').split(',');
const HEAD_BYTES = Number(process.env.HEAD_BYTES || 96 * 1024);
const BODY = Buffer.alloc(Number(process.env.BODY_BYTES || 5 * 1024 * 1024), 7);

const tick = 100; // USER_HZ
const cpu = (pid) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) / tick; };

/** The pid of the node process serving Azurite (the bin may be a shell wrapper). */
function azuritePid(child) {
  const kids = (pid) => { try { return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean); } catch { return []; } };
  let pid = String(child.pid);
  for (;;) { const k = kids(pid); if (!k.length) return pid; pid = k[0]; }
}

async function pool(items, n, f) {
  let i = 0;
  await Promise.all(Array.from({ length: n }, async () => { while (i < items.length) { const j = i++; await f(items[j], j); } }));
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'finsync-commitcost-'));
const { child: az, blobService } = await startAzurite(tmp);
try {
  const pid = azuritePid(az);
  const c = blobService.getContainerClient('finsync');
  await c.create();
  // Warm-up (JIT): 20 PUTs under other names, as the bench's warm-up.
  await pool([...Array(20).keys()], 4, (i) => c.getBlockBlobClient(`warm/${i}.jpg`).uploadData(BODY));
  const rows = [];
  const totals = {};
  for (let b = 0; b < BATCHES; b++) {
    const names = Array.from({ length: BATCH }, (_, i) => `encounters/1/k${b * BATCH + i}/IMG_${b * BATCH + i}.jpg`);
    const snaps = new Array(BATCH);
    const row = { batch: b + 1, stored: (b + 1) * BATCH };
    const step = async (label, f) => { const c0 = cpu(pid); const t0 = performance.now(); await pool(names, 4, f); row[label] = { cpuMs: Math.round((cpu(pid) - c0) * 1000 / BATCH * 10) / 10, wallMs: Math.round((performance.now() - t0) / BATCH * 10) / 10 }; totals[label] = (totals[label] || 0) + (cpu(pid) - c0); };
    await step('put', (n) => c.getBlockBlobClient(n).uploadData(BODY));
    for (const s of STEPS) {
      if (s === 'lease') await step(s, (n) => c.getBlobClient(n).getBlobLeaseClient(randomUUID()).acquireLease(-1));
      else if (s === 'snapshot') await step(s, async (n, j) => { snaps[j] = (await c.getBlobClient(n).createSnapshot()).snapshot; });
      else if (s === 'head') await step(s, async (n, j) => { const r = await c.getBlobClient(n).withSnapshot(snaps[j]).download(0, HEAD_BYTES); for await (const _ of r.readableStreamBody) { /* drain */ } });
      else if (s === 'headBase') await step(s, async (n) => { const r = await c.getBlobClient(n).download(0, HEAD_BYTES); for await (const _ of r.readableStreamBody) { /* drain */ } });
      else if (s === 'props') await step(s, (n, j) => c.getBlobClient(n).withSnapshot(snaps[j]).getProperties());
      else throw new Error(`unknown step ${s}`);
    }
    console.log(JSON.stringify(row));
    rows.push(row);
  }
  console.log(JSON.stringify({ steps: STEPS, totalCpuS: Object.fromEntries(Object.entries(totals).map(([k, v]) => [k, Number(v.toFixed(2))])) }));
} finally {
  az.kill('SIGTERM');
  await new Promise(r => { az.once('exit', r); setTimeout(r, 5000).unref(); });
  rmSync(tmp, { recursive: true, force: true });
}
