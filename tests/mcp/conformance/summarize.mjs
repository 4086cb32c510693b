// Prints why scenarios failed, from the checks.json files of a conformance run (the suite
// itself prints only counts unless --verbose). Scenarios in the baseline get one line each.
//
// Usage: node summarize.mjs RESULTS_DIR EXPECTED_FAILURES_YML SUITE_ENTRY_JS
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const [resultsDir, baselinePath, suiteEntry] = process.argv.slice(2);
// The suite's own YAML parser, so the baseline is read the same way.
const YAML = createRequire(suiteEntry)('yaml');
const baseline = new Set((YAML.parse(readFileSync(baselinePath, 'utf8')) ?? {}).server ?? []);

const rows = [];
for (const dir of readdirSync(resultsDir).sort()) {
  const m = /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(dir);
  if (!m) continue;
  let checks;
  try {
    checks = JSON.parse(readFileSync(join(resultsDir, dir, 'checks.json'), 'utf8'));
  } catch {
    continue;
  }
  rows.push({ scenario: m[1], checks });
}

let unexpected = 0;
console.log('\n=== conformance summary (from checks.json) ===');
for (const { scenario, checks } of rows) {
  const bad = checks.filter((c) => c.status === 'FAILURE' || c.status === 'WARNING');
  const passed = checks.filter((c) => c.status === 'SUCCESS').length;
  if (bad.length === 0) {
    console.log(`PASS           ${scenario} (${passed} checks)${baseline.has(scenario) ? '  <- listed in the baseline: remove it' : ''}`);
    continue;
  }
  if (baseline.has(scenario)) {
    console.log(`EXPECTED-FAIL  ${scenario}: ${bad[0].errorMessage ?? bad[0].description}`.slice(0, 200));
    continue;
  }
  unexpected++;
  console.log(`FAIL           ${scenario}`);
  for (const c of bad) {
    console.log(`    ${c.status} ${c.id}: ${c.errorMessage ?? c.description}`);
    if (c.details) console.log(`      details: ${JSON.stringify(c.details).slice(0, 1500)}`);
  }
}
console.log(`=== ${rows.length} scenarios, ${unexpected} failing outside the baseline ===`);
