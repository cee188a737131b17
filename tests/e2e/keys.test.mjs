// A key per population (spec §3.1, issue 4). The demo user gets a role in a second population
// (through the server's admin CLI); with no pasted key, they sign in, and opening the Sync page
// provisions a key for each population ("Provisioning...", then "API key ready" on both cards).
// A folder synced into the second population lands there on the server, sent with that
// population's key. After a reload the keys are still there (nothing provisioned again); a key
// the server rejects shows "API key invalid" and Settings' Re-provision replaces it; a
// population whose browser sync is turned off shows "Access denied". After the server URL is
// changed to another server (a listener recording the Authorization headers it gets), none of
// the first server's keys or its session token reaches it, even across a reload and the Sync
// page; changing back finds the keys again. No key or session token appears in a URL, the
// console or the activity log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startStack, launchBrowser, outDir, ROOT } from './support/env.mjs';
import { makeJpeg } from './support/jpeg.mjs';
import { readStores } from './support/idb.mjs';
import { waitText } from './support/wait.mjs';

let stack, browser, other, otherUrl;
const seen = [];
const out = outDir('keys');
const folder = path.join(out, 'Rosario Strait 2024-08-02');

before(async () => {
  mkdirSync(folder, { recursive: true });
  for (let i = 0; i < 3; i++) {
    writeFileSync(path.join(folder, `IMG_${2000 + i}.JPG`), makeJpeg({ width: 160, height: 120, seed: 40 + i, exif: {
      date: `2024:08:02 09:0${i}:00`, offset: '-07:00', lat: 48.6, lon: -122.8, artist: 'Jane Smith', model: 'Canon EOS R5' } }));
  }
  // Another server: a listener that answers like one (CORS allowed, so the browser would send
  // an Authorization header if finsync gave it one) and records every header it gets.
  other = http.createServer((req, res) => {
    seen.push({ method: req.method, url: req.url, auth: req.headers.authorization || '' });
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Headers', 'authorization, content-type');
    res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PUT, DELETE, OPTIONS');
    if (req.method === 'OPTIONS') return res.writeHead(204).end();
    res.setHeader('content-type', 'application/json');
    if (req.url === '/api/v1/status') {
      return res.end(JSON.stringify({ serverVersion: 'other-1', apiVersion: 1, keyStatus: req.headers.authorization ? 'invalid' : 'notProvisioned', population: null }));
    }
    res.writeHead(401).end(JSON.stringify({ error: { code: 'unauthorized', message: 'no' } }));
  });
  await new Promise(r => other.listen(0, '127.0.0.1', r));
  otherUrl = `http://127.0.0.1:${other.address().port}`;
  // The page's CSP lets it call the other server (as a deployment lists its servers).
  process.env.FINSYNC_SOURCE_BLOB_ORIGINS = `https://*.blob.core.windows.net,${otherUrl}`;
  stack = await startStack({ testMode: true });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
  other?.close();
});

/** `finsync-server admin …` on the running server's database. */
function admin(...args) {
  const bin = process.env.FINSYNC_SERVER_BIN || path.join(ROOT, 'target/debug/finsync-server');
  return execFileSync(bin, ['admin', ...args], {
    env: { ...process.env, FINSYNC_DATABASE: path.join(stack.tmp, 'server.db') },
    input: '',
  }).toString().trim();
}

async function api(p, key, init = {}) {
  const r = await fetch(`${stack.appUrl}${p}`, { ...init, headers: { Authorization: `Bearer ${key}`, 'content-type': 'application/json', ...(init.headers || {}) } });
  const body = await r.text();
  return { status: r.status, json: body ? JSON.parse(body) : null, text: body };
}

const cardOf = (page, name) => page.getByTestId('population-card').filter({ hasText: name });

test('signing in, then opening the Sync page, gives each population its own key; a sync uses the right one', async () => {
  // The demo population (from the demo key) and a second one of the same organisation, where
  // the demo user gets a role.
  const pops = await api('/api/v1/populations', stack.apiKey);
  assert.equal(pops.status, 200, pops.text);
  const demoPop = pops.json.populations[0];
  const secondName = 'Puget Sound Orcas (second)';
  const second = Number(admin('create-population', '--organisation', String(demoPop.organisationId), secondName));
  assert.ok(second > demoPop.id, `second population id ${second}`);
  const demo = await fetch(`${stack.appUrl}/demo-config.json`).then(r => r.json());
  assert.match(admin('set-role', '--population', String(second), '--email', demo.email, '--role', 'expert'), /expert/);

  const context = await browser.newContext();
  const page = await context.newPage();
  const urls = [];
  const consoleText = [];
  page.on('request', r => urls.push(r.url()));
  page.on('console', m => consoleText.push(m.text()));
  const status = page.getByTestId('key-status');
  await page.goto(stack.appUrl);
  await status.filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });

  // No pasted key, not signed in: not provisioned, with what to do.
  await page.getByTestId('nav-settings').click();
  await page.locator('input[name=api-key]').fill('');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await status.filter({ hasText: 'API key not provisioned' }).waitFor();
  assert.match(await page.locator('.status-bar').textContent(), /Sign in under Settings/);

  // Sign in: the session is kept; no key is made before the Sync page opens.
  await page.locator('input[name=email]').fill(demo.email);
  await page.locator('input[name=password]').fill(demo.password);
  await page.getByTestId('sign-in').click();
  await waitText(page.getByTestId('sign-in-message'), /Signed in as .*Open the Sync page/);
  assert.match(await page.getByTestId('sign-in-message').textContent(), new RegExp(secondName.replace(/[()]/g, '\\$&')));
  assert.deepEqual((await readStores(page, ['apiKeys'])).apiKeys, [], 'nothing provisioned before the Sync page opens');

  // Opening the Sync page provisions both keys; "Provisioning..." shows meanwhile.
  await page.evaluate(() => {
    window.__sawProvisioning = false;
    new MutationObserver(() => {
      if (document.body.innerText.includes('Provisioning...')) window.__sawProvisioning = true;
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  await page.getByTestId('nav-sync').click();
  for (const name of [demoPop.name, secondName]) {
    await cardOf(page, name).getByTestId('card-key-status').filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });
  }
  assert.equal(await page.getByTestId('population-card').count(), 2);
  assert.ok(await page.evaluate(() => window.__sawProvisioning), '"Provisioning..." was shown');
  const bar = await status.textContent();
  assert.ok(bar.includes(demoPop.name) && bar.includes(secondName), bar);
  const { apiKeys } = await readStores(page, ['apiKeys']);
  assert.deepEqual(apiKeys.map(k => k.populationId).sort((a, b) => a - b), [demoPop.id, second]);
  for (const k of apiKeys) {
    assert.match(k.apiKey, /^fsk_/);
    assert.notEqual(k.apiKey, stack.apiKey);
  }
  const keyOf = id => apiKeys.find(k => k.populationId === id).apiKey;
  // Each key is its own population's.
  assert.equal((await api('/api/v1/status', keyOf(second))).json.population.id, second);
  assert.equal((await api('/api/v1/status', keyOf(demoPop.id))).json.population.id, demoPop.id);
  await page.screenshot({ path: path.join(out, 'two-populations.png'), fullPage: true });

  // A folder synced into the second population (chosen in the status bar).
  await page.getByTestId('population-select').selectOption(String(second));
  await page.getByTestId('folder-input').setInputFiles(folder);
  await page.getByTestId('picked-summary').filter({ hasText: '3 images' }).waitFor();
  await page.getByTestId('upload').click();
  await page.getByTestId('summary').waitFor({ timeout: 60000 });
  assert.match(await page.getByTestId('summary').textContent(), /^3 uploaded, 0 already on the server, 0 failed/);
  const onServer = async key => (await api('/api/v1/populations', key)).json.populations[0].counts;
  const counts = await onServer(keyOf(second));
  assert.equal(counts.encounters, 1, JSON.stringify(counts));
  assert.equal(counts.images, 3, JSON.stringify(counts));
  assert.equal((await onServer(keyOf(demoPop.id))).encounters, 0, 'nothing went to the demo population');
  await waitText(cardOf(page, secondName).getByTestId('count-images-synced'), /^3$/);
  assert.equal(await cardOf(page, demoPop.name).getByTestId('count-images-synced').textContent(), '0');

  // A reload keeps both keys: nothing is provisioned again.
  const provisionsBefore = urls.filter(u => u.includes('/keys/provision')).length;
  assert.equal(provisionsBefore, 2);
  await page.reload();
  for (const name of [demoPop.name, secondName]) {
    await cardOf(page, name).getByTestId('card-key-status').filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });
  }
  assert.equal(urls.filter(u => u.includes('/keys/provision')).length, provisionsBefore);

  // The server rejects the second key: "API key invalid" on its card; Settings re-provisions.
  assert.equal((await api('/api/v1/test/key-status', keyOf(second), { method: 'POST', body: JSON.stringify({ status: 'invalid' }) })).status, 200);
  await page.reload();
  const secondStatus = cardOf(page, secondName).getByTestId('card-key-status');
  await secondStatus.filter({ hasText: 'API key invalid' }).waitFor({ timeout: 20000 });
  assert.match(await secondStatus.textContent(), /re-provision it in Settings/);
  await page.getByTestId('nav-settings').click();
  await page.getByTestId('api-key-row').filter({ hasText: secondName }).getByTestId('reprovision').click();
  await page.getByTestId('api-key-row').filter({ hasText: `API key ready · ${secondName}` }).waitFor({ timeout: 20000 });
  const renewed = (await readStores(page, ['apiKeys'])).apiKeys.find(k => k.populationId === second).apiKey;
  assert.notEqual(renewed, keyOf(second));
  assert.equal((await api('/api/v1/status', renewed)).json.keyStatus, 'ready');

  // Browser sync turned off for the second population: "Access denied" with what to do.
  admin('set-sync', '--population', String(second), '--enabled', 'false');
  await page.getByTestId('nav-sync').click();
  await page.reload();
  await secondStatus.filter({ hasText: 'Access denied' }).waitFor({ timeout: 20000 });
  assert.match(await secondStatus.textContent(), /population admin must enable it/);
  await cardOf(page, demoPop.name).getByTestId('card-key-status').filter({ hasText: 'API key ready' }).waitFor();

  // No key or session token in a URL, the console or the activity log.
  const secrets = [...apiKeys.map(k => k.apiKey), renewed];
  const readSession = () => page.evaluate(() => new Promise((resolve, reject) => {
    const open = indexedDB.open('finsync');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const r = open.result.transaction('settings').objectStore('settings').get('session');
      r.onsuccess = () => { open.result.close(); resolve(r.result); };
    };
  }));
  const session = await readSession();
  assert.match(session.token, /^fss_/);
  assert.equal(session.server, new URL(stack.appUrl).origin);
  secrets.push(session.token);
  for (const k of (await readStores(page, ['apiKeys'])).apiKeys) assert.equal(k.server, new URL(stack.appUrl).origin);

  const statusCalls = () => seen.filter(r => r.method === 'GET' && r.url === '/api/v1/status').length;
  const moreCallsThan = async n => {
    for (let i = 0; i < 200 && statusCalls() <= n; i++) await new Promise(r => setTimeout(r, 100));
    assert.ok(statusCalls() > n, `the other server was asked: ${JSON.stringify(seen)}`);
  };
  await page.getByTestId('nav-settings').click();
  await page.locator('input[name=server-url]').fill(otherUrl);
  await page.getByRole('button', { name: 'Save settings' }).click();
  await moreCallsThan(0);
  await status.filter({ hasText: 'API key not provisioned' }).waitFor({ timeout: 20000 });
  // Settings lists only this server's keys (none) and no sign-in.
  assert.equal(await page.getByTestId('api-key-row').count(), 0);
  assert.equal(await page.getByTestId('signed-in').count(), 0);
  // The Sync page (which provisions with a live sign-in) and a reload (which loads the keys).
  await page.getByTestId('nav-sync').click();
  const beforeReload = statusCalls();
  await page.reload();
  await status.filter({ hasText: 'API key not provisioned' }).waitFor({ timeout: 20000 });
  await moreCallsThan(beforeReload);
  assert.ok(!seen.some(r => r.url.includes('/keys/provision')), JSON.stringify(seen));
  for (const r of seen) {
    assert.equal(r.auth, '', `an Authorization header reached the other server: ${r.method} ${r.url}`);
    for (const s of secrets) assert.ok(!r.url.includes(s));
  }
  // The first server's keys and session are kept: back on it, both keys are found again.
  await page.getByTestId('nav-settings').click();
  await page.locator('input[name=server-url]').fill(stack.appUrl);
  await page.getByRole('button', { name: 'Save settings' }).click();
  await page.getByTestId('api-key-row').filter({ hasText: `API key ready · ${demoPop.name}` }).waitFor({ timeout: 20000 });
  await page.getByTestId('api-key-row').filter({ hasText: 'Access denied' }).waitFor();
  await page.getByTestId('signed-in').waitFor();
  assert.equal((await readSession()).token, session.token);
  await page.getByTestId('nav-activity').click();
  await page.getByTestId('activity-row').first().waitFor();
  const log = await page.getByTestId('activity-table').textContent();
  assert.equal(log.match(/API key provisioned/g)?.length, 3, log);
  for (const s of secrets) {
    assert.ok(!urls.some(u => u.includes(s)), 'a key or token in a URL');
    assert.ok(!consoleText.some(t => t.includes(s)), 'a key or token in the console');
    assert.ok(!log.includes(s), 'a key or token in the activity log');
  }

  // Sign out ends the session on the server too: its token can no longer make a key.
  await page.getByTestId('nav-settings').click();
  await page.getByTestId('sign-out').click();
  await page.getByTestId('signed-in').waitFor({ state: 'detached' });
  await page.getByTestId('nav-activity').click();
  await page.getByTestId('activity-table').filter({ hasText: 'Signed out' }).waitFor();
  const again = await fetch(`${stack.appUrl}/api/v1/keys/provision`, {
    method: 'POST', headers: { Authorization: `Bearer ${session.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ populationId: demoPop.id }),
  });
  assert.equal(again.status, 401, 'the signed-out session still makes keys');
  await context.close();
});
