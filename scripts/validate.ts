/**
 * `npm run validate`: long validations that are not part of `npm test`.
 * Each check prints its numbers and the thresholds; the exit code is non-zero
 * if any check fails. Run some with `npm run validate -- lj13-pt aldp-md`.
 * The checks need the reference data in ../shared/data.
 */
import type { Check, Validation } from './validate/check.js';
import { aldpMd, aldpPt } from './validate/aldp.js';
import { lj13Pt } from './validate/lj13.js';
import { neuralGmm40 } from './validate/neural.js';
import { aldpQuick, dw4Quick, lj13Quick } from './validate/pita.js';
import { samplerDefaults } from './validate/sampler-defaults.js';

const VALIDATIONS: Record<string, Validation> = {
  'lj13-pt': lj13Pt,
  'aldp-md': aldpMd,
  'aldp-pt': aldpPt,
  'neural-gmm40': neuralGmm40,
  'dw4-quick': dw4Quick,
  'lj13-quick': lj13Quick,
  'aldp-quick': aldpQuick,
  'sampler-defaults': samplerDefaults,
};

const wanted = process.argv.slice(2);
const names = wanted.length > 0 ? wanted : Object.keys(VALIDATIONS);
let failed = 0;
let passed = 0;
for (const name of names) {
  const v = VALIDATIONS[name];
  if (!v) {
    console.error(`unknown validation '${name}'; valid: ${Object.keys(VALIDATIONS).join(', ')}`);
    process.exit(2);
  }
  console.log(`== ${name}`);
  const t0 = performance.now();
  const checks: Check[] = await v();
  for (const c of checks) {
    const ok = c.value <= c.threshold;
    if (ok) passed++;
    else failed++;
    console.log(`${ok ? 'PASS' : 'FAIL'} ${c.name}: ${c.value.toFixed(4)} (threshold ≤ ${c.threshold})`);
  }
  console.log(`(${name} took ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}
console.log(`validate: ${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
