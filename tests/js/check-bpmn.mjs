// Reads BPMN files with two published packages nobody in this project wrote:
// bpmn-moddle (the BPMN 2.0 metamodel behind bpmn.io and Camunda Modeler) must import each
// file without a warning, and bpmnlint's recommended rules must report nothing.
// Usage: node check-bpmn.mjs FILE.bpmn...   Prints one JSON line per file; exits 1 on any
// finding.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { BpmnModdle } from 'bpmn-moddle';

const require = createRequire(import.meta.url);
const { Linter } = require('bpmnlint');
const NodeResolver = require('bpmnlint/lib/resolver/node-resolver');

let failed = false;
for (const file of process.argv.slice(2)) {
  const xml = await readFile(file, 'utf8');
  const moddle = new BpmnModdle();
  const findings = [];
  let definitions;
  try {
    const parsed = await moddle.fromXML(xml, 'bpmn:Definitions');
    definitions = parsed.rootElement;
    for (const w of parsed.warnings) findings.push({ tool: 'bpmn-moddle', message: w.message });
  } catch (e) {
    findings.push({ tool: 'bpmn-moddle', message: String(e.message || e) });
  }
  if (definitions) {
    // a linter per file: some rules keep what they saw between runs
    const linter = new Linter({
      config: { extends: 'bpmnlint:recommended' },
      resolver: new NodeResolver(),
    });
    const results = await linter.lint(definitions);
    for (const [rule, reports] of Object.entries(results)) {
      for (const r of reports) {
        findings.push({ tool: 'bpmnlint', rule, category: r.category, id: r.id, message: r.message });
      }
    }
  }
  if (findings.length) failed = true;
  console.log(JSON.stringify({ file, findings }));
}
process.exit(failed ? 1 : 0);
