import type { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { checkOutputFiles } from '../core/atomic.js';
import { UserError } from '../core/errors.js';
import { createProgress, type Progress } from './progress.js';
import { writeNpy } from '../io/npy.js';
import { SAMPLER_NAMES, defaultSamplerOf, type SampleOptions } from '../samplers/run.js';
import { runSamplerInWorkers } from '../samplers/parallel.js';
import { convergenceLine, printWarnings, resolveTarget, summarize } from './common.js';
import { parseCount, parseLadder, parsePositive, parseSeed } from './options.js';

interface SampleCliOptions {
  target?: string;
  system?: string;
  sampler?: string;
  temperature?: number;
  ladder?: number[];
  n: number;
  seed: number;
  out: string;
  energies?: string;
  warmup?: number;
  maxWarmup?: number;
  thin?: number;
  maxThin?: number;
  chains?: number;
  stepSize?: number;
  replicas?: number;
  tMax?: number;
  local?: string;
  timestep?: number;
  friction?: number;
  workers: number;
  json?: boolean;
  quiet?: boolean;
}

/** `pita sample`: classical MCMC/MD sampling of a target. */
export function registerSampleCommand(program: Command): void {
  program
    .command('sample')
    .description('draw samples with MALA, HMC, underdamped Langevin (BAOAB) or parallel tempering')
    .option('--target <name>', 'target name (see `pita targets`)')
    .option('--system <file.xml>', 'an OpenMM System XML file instead of a built-in target')
    .option('--sampler <name>', `one of ${SAMPLER_NAMES.join(', ')}; default: the target's (mala for a Gaussian, else pt)`)
    .option('--temperature <T>', 'sampling temperature (pt: the coldest); default: the target default', parsePositive('--temperature'))
    .option('--ladder <T0,T1,…>', 'pt: explicit increasing temperature ladder starting at --temperature', parseLadder)
    .requiredOption('--n <N>', 'number of samples', parseCount('--n'))
    .option('--seed <S>', 'random seed', parseSeed, 0)
    .requiredOption('--out <file.npy>', 'samples, float64 [N, dim]')
    .option('--energies <file.npy>', 'also write the energies of the samples, float64 [N]')
    .option('--warmup <steps>', 'warm-up steps (step sizes adapt only here); default adaptive: 1000, then blocks of 500 until the chains agree (R̂ ≤ 1.05 on draws one autocorrelation time apart)', parseCount('--warmup', 0))
    .option('--max-warmup <steps>', 'cap of the adaptive warm-up; default 40000', parseCount('--max-warmup', 0))
    .option('--thin <steps>', "steps between collected samples; default adaptive: twice the autocorrelation time over the warm-up, 10 to --max-thin", parseCount('--thin'))
    .option('--max-thin <steps>', 'cap of the adaptive thin; default 2000', parseCount('--max-thin'))
    .option('--chains <C>', 'parallel chains; default N/100 within [4, 32]', parseCount('--chains'))
    .option('--step-size <h>', 'initial step size (mala, hmc, pt)', parsePositive('--step-size'))
    .option('--replicas <K>', 'pt: replicas of the geometric ladder; default 8', parseCount('--replicas', 2))
    .option('--t-max <T>', 'pt: hottest temperature of the geometric ladder; default 2·T for LJ clusters, 4·T for peptides, else 10·T', parsePositive('--t-max'))
    .option('--local <kernel>', 'pt: local kernel, mala or hmc; default mala')
    .option('--timestep <dt>', 'langevin: time step', parsePositive('--timestep'))
    .option('--friction <gamma>', 'langevin: friction', parsePositive('--friction'))
    .option('--workers <N>', 'worker threads the chains are split across (same output for any N; 1: this thread only); default: the CPU count', parseCount('--workers'), availableParallelism())
    .option('--json', 'print the summary as JSON')
    .option('--quiet', 'no progress bar')
    .action((opts: SampleCliOptions) => runSample(opts));
}

async function runSample(cli: SampleCliOptions): Promise<void> {
  const target = resolveTarget(cli);
  const opts = { ...cli, sampler: cli.sampler ?? defaultSamplerOf(target) };
  if (!(SAMPLER_NAMES as readonly string[]).includes(opts.sampler)) {
    throw new UserError(`unknown sampler '${opts.sampler}'; valid samplers: ${SAMPLER_NAMES.join(', ')}`);
  }
  if (opts.sampler !== 'pt' && (opts.ladder || opts.replicas || opts.tMax || opts.local)) {
    throw new UserError('--ladder, --replicas, --t-max and --local apply only to --sampler pt');
  }
  // Checked here with the CLI's names: the library's message would list its internal options.
  if (opts.sampler === 'langevin' && opts.stepSize !== undefined) throw new UserError('--step-size applies to --sampler mala, hmc and pt; langevin takes --timestep');
  if (opts.sampler !== 'langevin' && (opts.timestep !== undefined || opts.friction !== undefined)) throw new UserError('--timestep and --friction apply only to --sampler langevin');
  if (opts.ladder && opts.temperature !== undefined && opts.ladder[0] !== opts.temperature) {
    throw new UserError(`--ladder must start at --temperature ${opts.temperature}, got ${opts.ladder[0]}`);
  }
  if (opts.local !== undefined && opts.local !== 'mala' && opts.local !== 'hmc') {
    throw new UserError(`--local must be mala or hmc, got '${opts.local}'`);
  }
  checkOutputFiles([opts.out, opts.energies]);
  // The bar is created at the first step, when the total is known.
  const bar: { progress: Progress | null } = { progress: null };
  const t0 = performance.now();
  const sampleOptions: SampleOptions = {
    sampler: opts.sampler,
    n: opts.n,
    temperature: opts.temperature,
    seed: opts.seed,
    warmup: opts.warmup,
    maxWarmup: opts.maxWarmup,
    thin: opts.thin,
    maxThin: opts.maxThin,
    chains: opts.chains,
    stepSize: opts.stepSize,
    temperatures: opts.ladder,
    replicas: opts.replicas,
    tMax: opts.tMax,
    local: opts.local as SampleOptions['local'],
    timestep: opts.timestep,
    friction: opts.friction,
    onProgress: (done, total, info) => {
      const progress = (bar.progress ??= createProgress(`${opts.sampler} ${target.name}`, total, { quiet: opts.quiet }));
      if (done === 1 || done % 10 === 0 || done === total) {
        progress.update(done, {
          phase: info.phase,
          ...(info.acceptanceRate !== null ? { acc: info.acceptanceRate } : {}),
          evals: info.evaluations,
        });
      }
    },
  };
  let result;
  try {
    result = await runSamplerInWorkers({ target: opts.target, system: opts.system }, sampleOptions, opts.workers, target);
  } finally {
    bar.progress?.stop();
  }
  const seconds = (performance.now() - t0) / 1000;
  writeNpy(opts.out, result.samples, [result.n, result.dim], 'float64');
  if (opts.energies) writeNpy(opts.energies, result.energies, [result.n], 'float64');
  const e = summarize(result.energies);
  const summary = {
    target: target.name,
    sampler: result.sampler,
    temperature: result.temperature,
    n: result.n,
    chains: result.chains,
    warmup: result.warmup,
    thin: result.thin,
    acceptance: result.acceptance,
    evaluations: result.evaluations,
    nonFiniteProposals: result.nonFinite,
    convergence: result.convergence,
    warnings: result.warnings,
    energy: e,
    seconds,
    ...(result.kineticTemperature !== undefined ? { kineticTemperature: result.kineticTemperature } : {}),
    ...(result.pt
      ? {
          pt: {
            temperatures: [...result.pt.temperatures],
            swapAcceptance: [...result.pt.swapAcceptance],
            localAcceptance: [...result.pt.localAcceptance],
            roundTrips: result.pt.roundTrips,
          },
        }
      : {}),
    out: opts.out,
  };
  printWarnings(result.warnings);
  if (opts.json) {
    console.log(JSON.stringify(summary, null, 2));
    return;
  }
  const f = (v: number | null) => (v === null ? 'n/a' : v.toFixed(3));
  const lines = [
    `${result.sampler} on ${target.name} at T=${result.temperature}: ${result.n} samples from ${result.chains} chains in ${seconds.toFixed(1)} s → ${opts.out}`,
    `acceptance: warm-up ${f(result.acceptance.warmup)}, sampling ${f(result.acceptance.sampling)}`,
    `energy evaluations: ${result.evaluations.total} (init ${result.evaluations.init}, warm-up ${result.evaluations.warmup}, sampling ${result.evaluations.sampling})`,
    `energy [${target.energyUnit}]: mean ${e.mean.toPrecision(6)}  std ${e.std.toPrecision(4)}  min ${e.min.toPrecision(6)}  max ${e.max.toPrecision(6)}`,
  ];
  if (result.nonFinite > 0) lines.push(`non-finite proposals rejected: ${result.nonFinite}`);
  if (result.kineticTemperature !== undefined) lines.push(`kinetic temperature: ${result.kineticTemperature.toPrecision(4)}`);
  if (result.pt) {
    lines.push(`ladder: ${[...result.pt.temperatures].map((t) => t.toPrecision(4)).join(', ')}`);
    lines.push(`swap acceptance per pair: ${[...result.pt.swapAcceptance].map((a) => a.toFixed(2)).join(', ')}`);
    lines.push(`round trips: ${result.pt.roundTrips}`);
  }
  lines.push(convergenceLine(result.convergence));
  console.log(lines.join('\n'));
}
