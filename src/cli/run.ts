import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { checkOutputDirectory } from '../core/atomic.js';
import { UserError } from '../core/errors.js';
import { configWarnings, loadRunConfig, parseRunConfig, type RunConfig } from '../pita/config.js';
import type { RunEvent } from '../pita/events.js';
import type { DeviceChoice } from '../tensor/device.js';
import { parseDevice } from './bench.js';
import { withInterrupts } from './interrupt.js';
import { parseCount, parseSeed } from './options.js';
import { createProgress, type Progress } from './progress.js';

interface RunCliOptions {
  scale: 'quick' | 'full';
  out?: string;
  seed?: number;
  resume?: boolean;
  quiet?: boolean;
  device?: DeviceChoice;
  workers?: number;
}

/** The presets folder: configs/ next to src/ or dist/ in the package. */
function presetsDir(): string {
  return fileURLToPath(new URL('../../configs/', import.meta.url));
}

export function presetNames(): string[] {
  const dir = presetsDir();
  if (!existsSync(dir)) return [];
  return [...new Set(readdirSync(dir).filter((f) => /\.(quick|full)\.yaml$/.test(f)).map((f) => f.replace(/\.(quick|full)\.yaml$/, '')))].sort();
}

/** A preset name at a scale, or a path to a YAML config. */
export function resolveRunConfig(spec: string, scale: 'quick' | 'full'): { config: RunConfig; source: string } {
  if (spec.endsWith('.yaml') || spec.endsWith('.yml') || spec.includes('/')) {
    if (!existsSync(spec)) throw new UserError(`config file ${spec} not found`);
    return { config: loadRunConfig(spec), source: spec };
  }
  const path = `${presetsDir()}${spec}.${scale}.yaml`;
  if (!existsSync(path)) {
    throw new UserError(`unknown preset '${spec}' at scale '${scale}'; presets: ${presetNames().join(', ') || '(none found)'}; or give a path to a .yaml config`);
  }
  return { config: loadRunConfig(path), source: `preset ${spec} (${scale})` };
}

/** `pita run`: a progressive PITA run from a preset or a YAML config. */
export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run PITA (train, anneal, repeat down the ladder) from a preset or a YAML config')
    .argument('<preset|config.yaml>', `a preset (${presetNames().join(', ')}) or a config file`)
    .option('--scale <scale>', 'preset size: quick (minutes on a laptop CPU) or full (the paper hyper-parameters)', 'quick')
    .option('--out <dir>', 'run directory (default runs/<name>-<scale>)')
    .option('--seed <S>', 'override the config seed', parseSeed)
    .option('--resume', 'continue the run in --out from its last checkpoint')
    .option('--quiet', 'no progress bars')
    .option('--device <d>', 'tensor device: auto | cpu | webgpu (overrides the config key device; default auto)', parseDevice)
    .option('--workers <N>', 'threads computing each training step on slices of the batch and the annealing field on slices of the particles (same annealed samples for any N), CPU device only (overrides the config key workers; default: the CPU count; 1: this thread only)', parseCount('--workers'))
    .action((spec: string, opts: RunCliOptions) => runCommand(spec, opts));
}

async function runCommand(spec: string, opts: RunCliOptions): Promise<void> {
  if (opts.scale !== 'quick' && opts.scale !== 'full') throw new UserError(`--scale must be quick or full, got '${String(opts.scale)}'`);
  const resolved = resolveRunConfig(spec, opts.scale);
  const overrides = {
    ...(opts.seed === undefined ? {} : { seed: opts.seed }),
    ...(opts.device === undefined ? {} : { device: opts.device }),
    ...(opts.workers === undefined ? {} : { workers: opts.workers }),
  };
  const config = Object.keys(overrides).length === 0 ? resolved.config : parseRunConfig({ ...resolved.config, ...overrides }, resolved.source);
  if (config.data.source === 'file' && config.data.file && !existsSync(config.data.file)) {
    throw new UserError(`${resolved.source}: data.file ${config.data.file} not found`);
  }
  if (config.evaluation.reference && config.evaluation.reference !== 'generate' && !existsSync(config.evaluation.reference)) {
    throw new UserError(`${resolved.source}: evaluation.reference ${config.evaluation.reference} not found (remove the key to run without metrics)`);
  }
  const name = spec.replace(/^.*\//, '').replace(/\.ya?ml$/, '');
  const out = opts.out ?? `runs/${name}-${opts.scale}`;
  checkOutputDirectory(out);
  for (const w of configWarnings(config)) console.error(`warning: ${w}`);
  // Loaded here, not at the top: the orchestrator pulls in the tensor engine, which other commands never need.
  const { runPita } = await import('../pita/run.js');
  const t0 = performance.now();
  const printer = progressPrinter(opts.quiet ?? false);
  let r;
  try {
    // Ctrl-C and SIGTERM stop the run at its next training or annealing step (a checkpoint is written) and release its lock.
    r = await withInterrupts((signal) => runPita(config, { outDir: out, resume: opts.resume, quiet: opts.quiet, onEvent: printer.onEvent, signal }));
  } finally {
    printer.stop();
  }
  const m = r.metrics;
  const lines = [
    `PITA ${config.target}: ${config.ladder.temperatures.join(' → ')} in ${((performance.now() - t0) / 1000).toFixed(0)} s → ${out}`,
    `final samples: ${r.nFinal} at T=${config.ladder.temperatures.at(-1)} (${out}/samples/T_${config.ladder.temperatures.length - 1}.npy)`,
    `energy evaluations (method): ${m.evaluations.method}  [${Object.entries(m.evaluations.byComponent).map(([k, v]) => `${k} ${v}`).join(', ')}]`,
  ];
  const fmt = (v: number | null | undefined) => (v === null || v === undefined ? '–' : v.toFixed(4));
  if (m.pita) {
    lines.push(`PITA      energy W1 ${fmt(m.pita.energyW1)}  energy W2 ${fmt(m.pita.energyW2)}  distance W2 ${fmt(m.pita.distanceW2)}  sample W2 ${fmt(m.pita.sampleW2)}`);
  }
  if (m.baseline?.metrics) {
    const b = m.baseline.metrics;
    lines.push(`${m.baseline.sampler.toUpperCase().padEnd(9)} energy W1 ${fmt(b.energyW1)}  energy W2 ${fmt(b.energyW2)}  distance W2 ${fmt(b.distanceW2)}  sample W2 ${fmt(b.sampleW2)}  (${m.baseline.evaluations} evaluations)`);
  }
  console.log(lines.join('\n'));
}

/** Draws runPita's phases as progress bars on stderr and prints its warnings (even when quiet); `stop` ends a bar left open by an error. */
function progressPrinter(quiet: boolean): { onEvent: (e: RunEvent) => void; stop: () => void } {
  let bar: Progress | null = null;
  const stop = () => {
    bar?.stop();
    bar = null;
  };
  const onEvent = (e: RunEvent) => {
    if (e.type === 'warning') {
      stop();
      process.stderr.write(`warning: ${e.message}\n`);
    } else if (e.type === 'phase-start') {
      bar?.stop();
      bar = createProgress(e.label, e.total, { quiet });
    } else if (e.type === 'phase-progress') {
      bar?.update(e.done, e.info);
    } else {
      stop();
    }
  };
  return { onEvent, stop };
}
