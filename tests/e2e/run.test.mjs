// `make run` as a new user meets it (issue 3): the README's command starts Azurite and the
// reference server with the demo population, serves the release app and prints one URL; in
// that app a folder uploads with the pre-filled demo settings alone; Ctrl-C (SIGINT to the
// whole foreground process group, as a terminal sends it) stops everything it started.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ROOT, freePort, launchBrowser, outDir } from './support/env.mjs';
import { makeJpeg } from './support/jpeg.mjs';

const out = outDir('run');
let run, browser;

after(async () => {
  await browser?.close();
  if (run && run.exitCode === null) {
    try { process.kill(-run.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
});

/** Whether something accepts connections on `port`. */
const listening = (port) => new Promise((resolve) => {
  const s = net.connect(port, '127.0.0.1');
  s.on('connect', () => { s.destroy(); resolve(true); });
  s.on('error', () => resolve(false));
});

/** Whether any process of the process group `pgid` is alive. */
const groupAlive = (pgid) => { try { process.kill(-pgid, 0); return true; } catch { return false; } };

test('make run serves the app, a folder uploads with the demo settings, Ctrl-C stops it all', { timeout: 20 * 60000 }, async () => {
  const folder = path.join(out, 'Haro Strait 2024-07-15');
  mkdirSync(folder, { recursive: true });
  for (let i = 0; i < 3; i++) {
    writeFileSync(path.join(folder, `IMG_${i}.JPG`), makeJpeg({ seed: 40 + i, exif: { date: `2024:07:15 09:0${i}:00`, artist: 'Jane Smith' } }));
  }
  const appPort = await freePort();
  const blobPort = await freePort();
  run = spawn('make', ['--no-print-directory', 'run'], {
    cwd: ROOT,
    detached: true, // its own process group, which gets the SIGINT below as a terminal's Ctrl-C would
    env: { ...process.env, FINSYNC_PORT: String(appPort), FINSYNC_BLOB_PORT: String(blobPort), FINSYNC_DATA_DIR: path.join(out, 'data') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  run.stdout.on('data', d => { output += d; });
  run.stderr.on('data', d => { output += d; });
  const exited = new Promise(resolve => run.on('exit', (code, signal) => resolve({ code, signal })));

  // One URL, printed once everything is up (the first run here builds the release server).
  const url = await new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      const m = output.match(/finsync is running: open (http:\/\/\S+)/);
      if (m) { clearInterval(timer); resolve(m[1]); }
      if (run.exitCode !== null) { clearInterval(timer); reject(new Error(`make run exited ${run.exitCode}:\n${output.replace(/fsk_\S+/g, 'fsk_…')}`)); }
    }, 200);
  });
  assert.equal(url, `http://127.0.0.1:${appPort}`);
  assert.match(output, /demo population ready/);

  browser = await launchBrowser();
  const page = await browser.newPage();
  await page.goto(url);
  await page.getByTestId('key-status').filter({ hasText: 'API key ready' }).waitFor({ timeout: 30000 });
  await page.getByTestId('folder-input').setInputFiles(folder);
  await page.getByTestId('picked-summary').filter({ hasText: '3 images' }).waitFor();
  await page.getByTestId('upload').click();
  await page.getByTestId('summary').waitFor({ timeout: 60000 });
  assert.match(await page.getByTestId('summary').textContent(), /^3 uploaded, 0 already on the server, 0 failed/);
  await page.screenshot({ path: path.join(out, 'make-run.png'), fullPage: true });
  await browser.close();
  browser = null;

  // Ctrl-C: the script stops Azurite and the server, and nothing it started is left.
  process.kill(-run.pid, 'SIGINT');
  await exited;
  const until = Date.now() + 15000;
  while (Date.now() < until && (groupAlive(run.pid) || await listening(appPort) || await listening(blobPort))) {
    await new Promise(r => setTimeout(r, 200));
  }
  assert.equal(groupAlive(run.pid), false, 'a process started by make run is still running');
  assert.equal(await listening(appPort), false, 'the server still listens after Ctrl-C');
  assert.equal(await listening(blobPort), false, 'Azurite still listens after Ctrl-C');
  assert.match(output, /==> stopping/);
});
