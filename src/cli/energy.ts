import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { checkOutputFiles } from '../core/atomic.js';
import { describeRows, UserError } from '../core/errors.js';
import { writeNpy } from '../io/npy.js';
import { energiesInWorkers } from '../targets/parallel-energy.js';
import { logProb } from '../targets/target.js';
import { loadConfigurations, resolveTarget, summarize } from './common.js';
import { parseCount, parsePositive } from './options.js';

interface EnergyOptions {
  target?: string;
  system?: string;
  in: string;
  out: string;
  forces?: string;
  temperature?: number;
  logp?: string;
  allowNonfinite?: boolean;
  workers: number;
}

/** `pita energy`: energies (and optionally forces) of configurations in a .npy file. */
export function registerEnergyCommand(program: Command): void {
  program
    .command('energy')
    .description('evaluate energies (and forces) of configurations; writes float64 .npy files')
    .option('--target <name>', 'target name (see `pita targets`)')
    .option('--system <file.xml>', 'an OpenMM System XML file instead of a built-in target')
    .requiredOption('--in <file.npy>', 'configurations, shape [n, dim]')
    .requiredOption('--out <file.npy>', 'energies E(x), shape [n], in the target energy unit')
    .option('--forces <file.npy>', 'also write forces −∇E, shape [n, dim]')
    .option('--temperature <T>', 'also report reduced energies E/(k_B T)', parsePositive('--temperature'))
    .option('--logp <file.npy>', 'write log p_T(x) = −E/(k_B T) (needs --temperature)')
    .option('--allow-nonfinite', 'write rows whose energy or forces are NaN or infinite instead of refusing (they are counted in the summary)')
    .option('--workers <N>', `worker threads the rows are split across (same output for any N; at least ${MIN_ROWS_PER_WORKER} rows each); default: the CPU count`, parseCount('--workers'), availableParallelism())
    .action((opts: EnergyOptions) => runEnergy(opts));
}

/** Below this many rows per thread, starting a worker costs more than it saves. */
const MIN_ROWS_PER_WORKER = 2000;

async function runEnergy(opts: EnergyOptions): Promise<void> {
  if (opts.logp && opts.temperature === undefined) throw new UserError('--logp needs --temperature');
  const target = resolveTarget(opts);
  checkOutputFiles([opts.out, opts.forces, opts.logp]);
  const { x, n } = loadConfigurations(opts.in, target, '--in');
  const t0 = performance.now();
  const workers = Math.max(1, Math.min(opts.workers, Math.floor(n / MIN_ROWS_PER_WORKER)));
  const { energy, forces } = await energiesInWorkers({ target: opts.target, system: opts.system }, target, x, n, Boolean(opts.forces), workers);
  const seconds = (performance.now() - t0) / 1000;
  const bad = nonFiniteEnergyRows(energy, forces, n, target.dim);
  if (bad.length > 0 && !opts.allowNonfinite) {
    throw new UserError(
      `${opts.in}: energy${forces ? ' or forces' : ''} of ${bad.length} of ${n} configurations are NaN or infinite (rows ${describeRows(bad)}); ` +
        'nothing was written (pass --allow-nonfinite to write them anyway)',
    );
  }
  writeNpy(opts.out, energy, [n], 'float64');
  if (opts.forces && forces) writeNpy(opts.forces, forces, [n, target.dim], 'float64');
  // Statistics of the finite rows only: one NaN would make them all NaN (and min/max ±Infinity).
  const finite = bad.length === 0 ? energy : energy.filter((e) => Number.isFinite(e));
  const s = summarize(finite);
  const lines = [`target ${target.name}: ${n} configurations, ${target.counter.total} energy evaluations in ${seconds.toFixed(3)} s`];
  if (bad.length > 0) lines.push(`non-finite: ${bad.length} of ${n} rows (rows ${describeRows(bad)}), written as they are; statistics below cover the ${finite.length} finite rows`);
  if (finite.length > 0) {
    lines.push(`energy [${target.energyUnit}]: mean ${s.mean.toPrecision(8)}  std ${s.std.toPrecision(6)}  min ${s.min.toPrecision(8)}  max ${s.max.toPrecision(8)}`);
  }
  if (opts.temperature !== undefined) {
    const lp = logProb(target, energy, opts.temperature);
    const r = summarize(logProb(target, finite, opts.temperature));
    if (finite.length > 0) lines.push(`reduced energy E/(k_B T) at T=${opts.temperature}: mean ${(-r.mean).toPrecision(8)}  std ${r.std.toPrecision(6)}`);
    if (opts.logp) writeNpy(opts.logp, lp, [n], 'float64');
  }
  console.log(lines.join('\n'));
}

/** Rows whose energy, or (when computed) any force component, is NaN or infinite. */
function nonFiniteEnergyRows(energy: Float64Array, forces: Float64Array | null, n: number, dim: number): number[] {
  const bad: number[] = [];
  for (let i = 0; i < n; i++) {
    let ok = Number.isFinite(energy[i]);
    if (ok && forces) for (let j = i * dim; j < (i + 1) * dim && ok; j++) ok = Number.isFinite(forces[j]);
    if (!ok) bad.push(i);
  }
  return bad;
}
