// What the headless Chromium scripts share: Debian's chromium ($CHROMIUM or
// /usr/bin/chromium) with a fresh context, the page's errors collected (a failed load the
// test provokes, 401 or 422, is not one; a script error or a refused inline script is),
// screenshots numbered in OUTDIR, and the clicks that post a form or follow a link.
import { chromium } from 'playwright-core';
import { join } from 'node:path';

// Opens a page: `args` for Chromium, `context` for the browser context; what the script
// saw goes in `seen` (`errors`, `shots` and the script's own).
export async function open(out, { args = [], context = {}, seen = {} } = {}) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', ...args],
  });
  Object.assign(seen, { errors: [], shots: [] });
  const ctx = await browser.newContext({ viewport: { width: 1300, height: 1000 }, ...context });
  const page = await ctx.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) seen.errors.push(m.text());
  });
  page.on('pageerror', (e) => seen.errors.push(String(e)));
  let n = 0;
  const shot = async (name) => {
    const path = join(out, `${String(++n).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path, fullPage: true });
    seen.shots.push(path);
  };
  // a click that posts a form or follows a link, and the page it leads to
  const go = (sel) => Promise.all([page.waitForNavigation(), page.click(sel)]);
  const text = async (sel) => ((await page.locator(sel).count()) ? (await page.locator(sel).first().innerText()).trim() : null);
  return { browser, page, seen, shot, go, text };
}
