import type { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { checkOutputFiles } from '../core/atomic.js';
import { UserError } from '../core/errors.js';
import { createProgress, type Progress } from './progress.js';
import { writeNpy } from '../io/npy.js';
import { positionsFromPdb } from '../forcefield/pdb-input.js';
import { runMd } from '../md/run.js';
import { MoleculeTarget } from '../targets/molecule.js';
import type { Target } from '../targets/target.js';
import { mdChecks } from '../samplers/checks.js';
import { convergenceLine, loadConfigurations, printWarnings, resolveTarget, summarize } from './common.js';
import { withInterrupts } from './interrupt.js';
import { parseCount, parsePositive, parseSeed } from './options.js';

interface MdCliOptions {
  target?: string;
  system?: string;
  temperature: number;
  frames: number;
  interval: number;
  timestepFs: number;
  friction: number;
  warmup: number;
  replicas: number;
  seed: number;
  out: string;
  init?: string;
  minimize: boolean;
  checkpoint?: string;
  checkpointMinutes: number;
  resume?: boolean;
  workers: number;
  quiet?: boolean;
}

/** `pita md`: Langevin molecular dynamics of a molecule (nm, ps, kJ/mol, K). */
export function registerMdCommand(program: Command): void {
  program
    .command('md')
    .description('Langevin molecular dynamics (BAOAB) after energy minimisation; frames in nm')
    .option('--target <name>', 'molecular target: aldp or al3')
    .option('--system <file.xml>', 'an OpenMM System XML file (needs --init)')
    .requiredOption('--temperature <K>', 'temperature in kelvin', parsePositive('--temperature'))
    .requiredOption('--frames <N>', 'frames to save (per replica)', parseCount('--frames'))
    .requiredOption('--interval <steps>', 'integration steps between frames', parseCount('--interval'))
    .option('--timestep-fs <fs>', 'time step in femtoseconds', parsePositive('--timestep-fs'), 1)
    .option('--friction <per-ps>', 'friction coefficient in 1/ps', parsePositive('--friction'), 0.3)
    .option('--warmup <steps>', 'discarded steps after minimisation', parseCount('--warmup', 0), 5000)
    .option('--replicas <R>', 'independent trajectories side by side', parseCount('--replicas'), 1)
    .option('--seed <S>', 'random seed', parseSeed, 0)
    .option('--init <file>', 'starting coordinates: .npy [1 or R, dim] in nm, or a .pdb in the topology atom order (default: the built structure)')
    .option('--no-minimize', 'skip the energy minimisation')
    .requiredOption('--out <file.npy>', 'frames, float64 [frames·replicas, dim], frame-major')
    .option('--checkpoint <file>', 'checkpoint file (default: <out>.ckpt.json)')
    .option('--checkpoint-minutes <m>', 'minutes between checkpoints', parsePositive('--checkpoint-minutes'), 5)
    .option('--resume', 'continue from the checkpoint')
    .option('--workers <N>', 'worker threads the replicas are split across (same frames for any N; 1: this thread only); default: the CPU count', parseCount('--workers'), availableParallelism())
    .option('--quiet', 'no progress bar')
    .action((opts: MdCliOptions) => runMdCommand(opts));
}

/** Starting coordinates from .npy (nm) or, for built-in peptides, a PDB checked against the topology. */
function loadInit(path: string, target: Target): Float64Array {
  if (path.toLowerCase().endsWith('.pdb')) {
    if (!(target instanceof MoleculeTarget) || !target.topology) {
      throw new UserError(`--init ${path}: PDB input needs a built-in peptide target (aldp, al3); give a .npy for --system`);
    }
    return positionsFromPdb(path, target.topology);
  }
  return loadConfigurations(path, target, '--init').x;
}

async function runMdCommand(opts: MdCliOptions): Promise<void> {
  const target = resolveTarget(opts);
  if (target.energyUnit !== 'kJ/mol') throw new UserError(`pita md needs a molecular target (aldp, al3 or --system); '${target.name}' is in reduced units — use pita sample --sampler langevin`);
  if (opts.system && !opts.init) throw new UserError('--system needs --init <file.npy> with starting coordinates in nm');
  const init = opts.init ? loadInit(opts.init, target) : undefined;
  const timestep = opts.timestepFs / 1000; // ps
  const checkpointPath = opts.checkpoint ?? `${opts.out}.ckpt.json`;
  checkOutputFiles([opts.out, checkpointPath]);
  const bar: { progress: Progress | null } = { progress: null };
  const t0 = performance.now();
  let result;
  try {
    // Ctrl-C and SIGTERM stop the run at its next progress report, after writing the checkpoint.
    result = await withInterrupts((signal) =>
      runMd(target, {
        signal,
        temperature: opts.temperature,
        frames: opts.frames,
        interval: opts.interval,
        timestep,
        friction: opts.friction,
        warmupSteps: opts.warmup,
        replicas: opts.replicas,
        seed: opts.seed,
        init,
        minimize: opts.minimize,
        checkpointPath,
        checkpointSeconds: opts.checkpointMinutes * 60,
        resume: opts.resume,
        workers: opts.workers,
        spec: { target: opts.target, system: opts.system },
        onProgress: (p) => {
          const progress = (bar.progress ??= createProgress(`md ${target.name}`, p.totalSteps, { quiet: opts.quiet }));
          progress.update(p.step, { phase: p.phase, frames: p.framesDone, 'ns/day': p.nsPerDay, 'T_kin': p.kineticTemperature });
        },
      }),
    );
  } finally {
    bar.progress?.stop();
  }
  const seconds = (performance.now() - t0) / 1000;
  writeNpy(opts.out, result.frames.subarray(0, result.nFrames * target.dim), [result.nFrames, target.dim], 'float64');
  const e = summarize(result.energies.subarray(0, result.nFrames));
  const convergence = mdChecks(target, result.frames, result.energies, result.nFrames, opts.replicas, opts.warmup, opts.interval);
  printWarnings([...result.warnings, ...convergence.warnings]);
  const simulatedNs = ((opts.warmup + opts.frames * opts.interval) * timestep * opts.replicas) / 1000;
  console.log(
    [
      `md on ${target.name} at ${opts.temperature} K: ${result.nFrames} frames (${opts.replicas} replica(s)) → ${opts.out}`,
      result.resumedFromStep > 0 ? `resumed from step ${result.resumedFromStep}` : `minimised energy: ${result.minimizedEnergy === null ? 'skipped' : `${result.minimizedEnergy.toFixed(3)} kJ/mol`}`,
      `simulated ${simulatedNs.toPrecision(4)} ns in ${seconds.toFixed(1)} s; mean kinetic temperature ${result.meanKineticTemperature.toFixed(1)} K`,
      `energy evaluations: ${result.evaluations}`,
      `frame energy [kJ/mol]: mean ${e.mean.toFixed(3)}  std ${e.std.toFixed(3)}`,
      convergenceLine(convergence),
      `checkpoint: ${checkpointPath}`,
    ].join('\n'),
  );
}
