// The status bar and Settings through the real UI: every API key status with what to do
// about it (the server's test mode puts the key in each state), sign-in and the key the Sync
// page then provisions, the offline state, and screenshots in light and dark mode at desktop and phone
// width (saved under test-output/ui/ and looked at).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startStack, launchBrowser, outDir } from './support/env.mjs';
import { readStores } from './support/idb.mjs';

let stack, browser;
const out = outDir('ui');

before(async () => { stack = await startStack({ testMode: true }); browser = await launchBrowser(); });
after(async () => { await browser?.close(); await stack?.stop(); });

async function setKeyStatus(key, status) {
  const r = await fetch(`${stack.appUrl}/api/v1/test/key-status`, {
    method: 'POST', headers: { Authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ status }),
  });
  assert.equal(r.status, 200, await r.text());
}

test('key statuses, sign-in provisioning and offline are shown with what to do', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const status = page.getByTestId('key-status');
  await page.goto(stack.appUrl);
  await status.filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });

  for (const [mode, w, h] of [['light', 1280, 900], ['dark', 1280, 900], ['light', 360, 800], ['dark', 360, 800]]) {
    await page.emulateMedia({ colorScheme: mode });
    await page.setViewportSize({ width: w, height: h });
    await page.screenshot({ path: path.join(out, `sync-${mode}-${w}.png`), fullPage: true });
    // Nothing may overflow sideways at phone width.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `page is ${overflow}px wider than a ${w}px screen`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1280, height: 900 });

  await setKeyStatus(stack.apiKey, 'accessDenied');
  await page.reload();
  await status.filter({ hasText: 'Access denied' }).waitFor();
  assert.match(await page.locator('.status-bar').textContent(), /population admin must enable it/);
  assert.ok(await page.getByTestId('upload').isDisabled(), 'Upload is disabled without a ready key');

  await setKeyStatus(stack.apiKey, 'ready');
  await page.reload();
  await status.filter({ hasText: 'API key ready' }).waitFor();

  await setKeyStatus(stack.apiKey, 'invalid');
  await page.reload();
  await status.filter({ hasText: 'API key invalid' }).waitFor();
  // A pasted key: paste a new one (Re-provision is only for provisioned keys).
  const invalidBar = await page.locator('.status-bar').textContent();
  assert.match(invalidBar, /paste a new key in Settings/);
  assert.doesNotMatch(invalidBar, /re-provision/i);

  // No key at all, then sign in: the app provisions a new key for this browser.
  await page.getByTestId('nav-settings').click();
  await page.locator('input[name=api-key]').fill('');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await status.filter({ hasText: 'API key not provisioned' }).waitFor();
  const demo = await fetch(`${stack.appUrl}/demo-config.json`).then(r => r.json());
  assert.ok(demo.email && demo.password, 'the demo server offers a demo user');
  await page.locator('input[name=email]').fill(demo.email);
  await page.locator('input[name=password]').fill(demo.password);
  await page.getByTestId('sign-in').click();
  await page.getByTestId('sign-in-message').filter({ hasText: 'Signed in as' }).waitFor({ timeout: 20000 });
  assert.equal(await page.locator('input[name=password]').inputValue(), '', 'the password is not kept in the form');
  // Opening the Sync page provisions the key (spec §3.1); it is kept per population, not in
  // the pasted-key field.
  await page.getByTestId('nav-sync').click();
  await status.filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });
  const { apiKeys } = await readStores(page, ['apiKeys']);
  assert.equal(apiKeys.length, 1);
  const newKey = apiKeys[0].apiKey;
  assert.match(newKey, /^fsk_/);
  assert.notEqual(newKey, stack.apiKey);
  await page.getByTestId('nav-settings').click();
  assert.equal(await page.locator('input[name=api-key]').inputValue(), '', 'the provisioned key is not shown');
  await page.screenshot({ path: path.join(out, 'settings-after-sign-in.png'), fullPage: true });

  // The activity log recorded the key change without the key.
  await page.getByTestId('nav-activity').click();
  await page.getByTestId('activity-row').first().waitFor();
  const log = await page.getByTestId('activity-table').textContent();
  assert.match(log, /API key provisioned/);
  assert.ok(!log.includes(newKey) && !log.includes(stack.apiKey), 'no key in the activity log');

  // Offline: the status bar says so.
  await page.getByTestId('nav-sync').click();
  await context.setOffline(true);
  await status.filter({ hasText: 'Server unreachable' }).waitFor();
  assert.match(await page.locator('.status-bar').textContent(), /offline/);
  await context.setOffline(false);
  await status.filter({ hasText: 'API key ready' }).waitFor({ timeout: 20000 });
  await context.close();
});
