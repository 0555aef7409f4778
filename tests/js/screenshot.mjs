// Opens a page in headless Chromium, waits for it to load, and keeps a full-page
// screenshot. Prints one JSON line: the page's title, its status, how many <svg> it drew,
// and the console errors.
// Usage: node screenshot.mjs URL OUT.png     Chromium: $CHROMIUM or /usr/bin/chromium.
import { chromium } from 'playwright-core';

const [url, out] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  const response = await page.goto(url, { waitUntil: 'load' });
  const svgs = await page.locator('svg').count();
  const bad = await page.evaluate(() =>
    [...document.querySelectorAll('svg')].filter((s) => s.getBBox().width === 0).length
  );
  await page.screenshot({ path: out, fullPage: true, timeout: 120000 });
  console.log(JSON.stringify({ title: await page.title(), status: response.status(), svgs, empty_svgs: bad, errors }));
} finally {
  await browser.close();
}
