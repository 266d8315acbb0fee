import { runSampler } from '../../src/samplers/run.js';
import { createTarget, targetNames } from '../../src/targets/index.js';
import type { Check } from './check.js';

/**
 * Every built-in target's `pita sample` with default settings (only the
 * target, n = 2000 and a seed) passes its own convergence diagnostics: the
 * check is the number of warnings, which must be 0. Prints one row per
 * target for the README's "Sampler defaults, measured" table.
 */
export function samplerDefaults(): Check[] {
  const checks: Check[] = [];
  console.log('| target | sampler | chains | warm-up | thin | energy R̂ | energy ESS | coordinate R̂ (min ESS) | PT round trips | seconds | warnings |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const name of targetNames()) {
    const target = createTarget(name);
    const t0 = performance.now();
    const r = runSampler(target, { n: 2000, seed: 7 });
    const c = r.convergence;
    const seconds = (performance.now() - t0) / 1000;
    const coords = `${c.coordinates.maxRhat.toFixed(3)} (${Math.round(c.coordinates.minEss)})${target.nParticles === 1 ? '' : ', not checked'}`;
    console.log(
      `| ${name} | ${r.sampler} | ${r.chains} | ${r.warmup} | ${r.thin} | ${c.energy.rhat.toFixed(3)} | ${Math.round(c.energy.ess)} | ${coords} | ${c.roundTrips?.total ?? '–'} | ${seconds.toFixed(0)} | ${r.warnings.join('; ') || 'none'} |`,
    );
    checks.push({ name: `${name} (${r.sampler}) warnings with default settings`, value: r.warnings.length, threshold: 0 });
  }
  return checks;
}
