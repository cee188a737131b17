// Waiting on what the page shows, shared by the end-to-end tests.

/** Polls `locator`'s first match until its text matches `re`; returns that text, or throws with
 *  the last text seen after `timeout` ms. */
export async function waitText(locator, re, timeout = 20000) {
  const until = Date.now() + timeout;
  let text = '';
  while (Date.now() < until) {
    text = (await locator.first().textContent().catch(() => '')) ?? '';
    if (re.test(text)) return text;
    await new Promise(r => setTimeout(r, 100));
  }
  throw new Error(`text ${JSON.stringify(text)} never matched ${re}`);
}
