// Renders BPMN files with bpmn-js (the modeler behind bpmn.io and Camunda Modeler) in
// headless Chromium and keeps a screenshot of each: the import must give no warning and
// draw every element of the file.
// Usage: node render-bpmn.mjs OUT_DIR FILE.bpmn...   Chromium: $CHROMIUM or /usr/bin/chromium.
// Prints one JSON line per file; exits 1 when an import fails or warns.
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const viewer = require.resolve('bpmn-js/dist/bpmn-viewer.production.min.js');
const [outDir, ...files] = process.argv.slice(2);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
let failed = false;
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  await page.setContent(
    '<!doctype html><html><head><meta charset="utf-8"></head>' +
      '<body style="margin:0"><div id="canvas" style="width:1600px;height:1000px"></div></body></html>'
  );
  await page.addScriptTag({ path: viewer });
  for (const file of files) {
    const xml = await readFile(file, 'utf8');
    const result = await page.evaluate(async (xml) => {
      const container = document.getElementById('canvas');
      container.innerHTML = '';
      const v = new BpmnJS({ container });
      try {
        const { warnings } = await v.importXML(xml);
        v.get('canvas').zoom('fit-viewport');
        const all = v.get('elementRegistry').getAll();
        return {
          warnings: warnings.map((w) => w.message),
          shapes: all.filter((e) => !e.waypoints && e.type !== 'label').length,
          connections: all.filter((e) => e.waypoints).length,
        };
      } catch (e) {
        return { error: String(e.message || e) };
      }
    }, xml);
    const shot = join(outDir, basename(file).replace(/\.bpmn$/, '.png'));
    await page.screenshot({ path: shot });
    if (result.error || result.warnings.length) failed = true;
    console.log(JSON.stringify({ file, screenshot: shot, ...result }));
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
