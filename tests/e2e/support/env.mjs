// Starts what an end-to-end test needs, each on a free loopback port with its own temporary
// data: Azurite (blob only) and the reference server serving the release bundle in dist/.
// Everything is stopped by `stop()`.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, existsSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const OUT = path.join(ROOT, 'test-output');
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

async function waitFor(url, what, ms = 30000) {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    try { const r = await fetch(url); if (r.status < 500) return; last = `status ${r.status}`; } catch (e) { last = e.message; }
    await new Promise(r => setTimeout(r, 150));
  }
  throw new Error(`${what} did not start at ${url}: ${last}`);
}

function start(cmd, args, opts, logName) {
  const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', d => { log += d; });
  child.stderr.on('data', d => { log += d; });
  child.logText = () => `--- ${logName} ---\n${log}`;
  return child;
}

/** Starts Azurite and the server; returns { appUrl, blobUrl, apiKey, container, blobService, stop }.
 *  With `blobFaults` ({ rate, kinds, seed }), browsers reach Azurite through the fault proxy
 *  (`publicBlobUrl`); with `testMode`, the server's /api/v1/test endpoints are on; `staticDir`
 *  serves another copy of the bundle than dist/. */
/** Starts Azurite (blob service only) on a free port, its data in `dir`/azurite; returns
 *  { child, blobPort, blobUrl, blobService } once it answers. startStack's, and the benchmarks'
 *  that measure Azurite alone. */
export async function startAzurite(dir) {
  const blobPort = await freePort();
  const blobUrl = `http://127.0.0.1:${blobPort}/${AZURITE_ACCOUNT}`;
  const child = start(path.join(ROOT, 'node_modules/.bin/azurite-blob'), [
    '--silent', '--location', path.join(dir, 'azurite'), '--blobHost', '127.0.0.1', '--blobPort', String(blobPort),
    '--loose', '--skipApiVersionCheck', '--disableTelemetry',
  ], {}, 'azurite');
  await waitFor(`http://127.0.0.1:${blobPort}/`, 'Azurite');
  const blobService = new BlobServiceClient(blobUrl, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY));
  return { child, blobPort, blobUrl, blobService };
}

export async function startStack({ container = 'finsync', blobFaults = null, testMode = false, staticDir = path.join(ROOT, 'dist') } = {}) {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'finsync-e2e-'));
  const { child: azurite, blobPort, blobUrl, blobService } = await startAzurite(tmp);
  const appPort = await freePort();
  const appUrl = `http://127.0.0.1:${appPort}`;
  let proxy = null;
  let publicBlobUrl = blobUrl;
  if (blobFaults) {
    const proxyPort = await freePort();
    const proxyBin = process.env.FINSYNC_PROXY_BIN || path.join(ROOT, 'target/debug/finsync-fault-proxy');
    proxy = start(proxyBin, ['--listen', `127.0.0.1:${proxyPort}`, '--target', `http://127.0.0.1:${blobPort}`,
      '--rate', String(blobFaults.rate), '--seed', String(blobFaults.seed ?? 1), '--kinds', blobFaults.kinds ?? '502,503,reset'], {}, 'fault-proxy');
    await waitFor(`http://127.0.0.1:${proxyPort}/`, 'fault proxy');
    publicBlobUrl = `http://127.0.0.1:${proxyPort}/${AZURITE_ACCOUNT}`;
  }
  const serverBin = process.env.FINSYNC_SERVER_BIN || path.join(ROOT, 'target/debug/finsync-server');
  if (!existsSync(serverBin)) throw new Error(`${serverBin} is missing: run make test (it builds the server first)`);
  if (!existsSync(path.join(staticDir, 'index.html'))) throw new Error(`${staticDir}/index.html is missing: run make test (it builds the app first)`);
  const server = start(serverBin, [
    '--listen', `127.0.0.1:${appPort}`,
    '--database', path.join(tmp, 'server.db'),
    '--blob-connection-string', `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${blobUrl};`,
    '--container', container,
    '--allowed-origins', appUrl,
    '--static-dir', staticDir,
    '--public-url', appUrl,
    '--demo',
    ...(blobFaults ? ['--public-blob-endpoint', publicBlobUrl] : []),
    ...(testMode ? ['--test-mode'] : []),
  ], { env: { ...process.env, RUST_LOG: 'finsync_server=info' } }, 'server');
  let apiKey = null;
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('server did not print its demo key\n' + server.logText())), 30000);
    server.stdout.on('data', () => {
      const m = /API key: (fsk_[A-Za-z0-9_-]+)/.exec(server.logText());
      if (m) { apiKey = m[1]; clearTimeout(t); resolve(); }
    });
    server.on('exit', code => { clearTimeout(t); reject(new Error(`server exited with ${code}\n${server.logText()}`)); });
  });
  await waitFor(`${appUrl}/api/v1/status`, 'finsync-server');
  return {
    appUrl, blobUrl, publicBlobUrl, apiKey, container, blobService, tmp,
    logs: () => azurite.logText() + '\n' + server.logText() + (proxy ? '\n' + proxy.logText() : ''),
    /** With `{ exited: true }` (the benchmarks), waits until each process has exited (at most
     *  5 s), so that a stack started next does not share the CPU with this one's shutdown
     *  (Azurite saves its database as it closes). */
    async stop({ exited = false } = {}) {
      server.kill('SIGINT'); azurite.kill('SIGTERM'); proxy?.kill('SIGTERM');
      const gone = (child) => child.exitCode !== null || child.signalCode !== null ? Promise.resolve()
        : new Promise(r => { child.once('exit', r); setTimeout(r, 5000).unref(); });
      await (exited ? Promise.all([server, azurite, proxy].filter(Boolean).map(gone)) : new Promise(r => setTimeout(r, 200)));
      if (exited) {
        // Still running after 5 s (Azurite saving its database on a loaded machine): it would
        // keep writing here while the directory is removed (ENOTEMPTY).
        const alive = [server, azurite, proxy].filter(c => c && c.exitCode === null && c.signalCode === null);
        for (const c of alive) c.kill('SIGKILL');
        await Promise.all(alive.map(gone));
      }
      rmSync(tmp, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
    },
  };
}

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

export async function launchBrowser() {
  return chromium.launch({ executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
}

export function outDir(name) {
  const dir = path.join(OUT, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Every blob of a container: name → Buffer. */
export async function readContainer(blobService, container) {
  const c = blobService.getContainerClient(container);
  const out = new Map();
  for await (const b of c.listBlobsFlat()) {
    out.set(b.name, await c.getBlobClient(b.name).downloadToBuffer());
  }
  return out;
}
