import { readConfigurations } from '../io/configurations.js';
import { targetFromSpec, type TargetSpec } from '../targets/spec.js';
import type { Target } from '../targets/target.js';
import type { ConvergenceReport } from '../samplers/convergence.js';

/** The target named by --target, or built from --system file.xml; exactly one must be given. */
export function resolveTarget(opts: TargetSpec): Target {
  return targetFromSpec({ target: opts.target, system: opts.system });
}

/** Reads an [n, dim] batch of configurations for `target` (see readConfigurations). */
export function loadConfigurations(path: string, target: Target, what: string): { x: Float64Array; n: number } {
  return readConfigurations(path, target, what);
}

/** Mean, standard deviation, minimum and maximum of an array. */
export function summarize(v: Float64Array): { mean: number; std: number; min: number; max: number } {
  let s = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const a of v) {
    s += a;
    if (a < min) min = a;
    if (a > max) max = a;
  }
  const mean = s / v.length;
  let ss = 0;
  for (const a of v) ss += (a - mean) ** 2;
  return { mean, std: Math.sqrt(ss / Math.max(1, v.length - 1)), min, max };
}

/** Warnings from the library, one `warning:` line each on stderr (stdout stays the summary or JSON). */
export function printWarnings(warnings: readonly string[]): void {
  for (const w of warnings) console.error(`warning: ${w}`);
}

/** One summary line of a convergence report. */
export function convergenceLine(c: ConvergenceReport): string {
  const f = (v: number) => (Number.isFinite(v) ? v.toPrecision(4) : String(v));
  const trips = c.roundTrips ? `; round trips per replica ${f(c.roundTrips.perReplica)}` : '';
  return (
    `convergence (${c.chains} chains × ${c.drawsPerChain} draws): energy R̂ ${f(c.energy.rhat)} ESS ${f(c.energy.ess)}; ` +
    `coordinates max R̂ ${f(c.coordinates.maxRhat)} min ESS ${f(c.coordinates.minEss)}${trips} — ${c.converged ? 'ok' : 'NOT converged (see warnings)'}`
  );
}
