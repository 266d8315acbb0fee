import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { StepBenchResult } from '../bench/steps.js';
import { UserError } from '../core/errors.js';
import { DEVICE_CHOICES, type DeviceChoice } from '../tensor/device.js';
import { parseCount } from './options.js';

interface BenchOptions {
  device: DeviceChoice;
  only?: string;
  steps: number;
  warmup: number;
  json?: string;
  batch?: number;
}

/** `pita bench`: times the paper's network steps on a device (the GPU rows of BENCHMARKS.md). */
export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description("time the paper's network steps (EGNN, DiT, MLP train steps; the annealing evaluation) on a device")
    .option('--device <d>', `tensor device: ${DEVICE_CHOICES.join(' | ')}`, parseDevice, 'auto')
    .option('--only <names>', `comma-separated subset of ${BENCH_NAMES.join(', ')}`)
    .option('--steps <n>', 'timed steps per workload', parseCount('--steps', 1), 20)
    .option('--warmup <n>', 'untimed steps first (the capture among them)', parseCount('--warmup', 0), 3)
    .option('--batch <n>', 'override every workload\'s batch size (for a quick check)', parseCount('--batch', 1))
    .option('--json <file>', 'also write the results as JSON')
    .action((opts: BenchOptions) => runBench(opts));
}

/** Commander parser of --device. */
export function parseDevice(v: string): DeviceChoice {
  if (!(DEVICE_CHOICES as readonly string[]).includes(v)) throw new UserError(`--device must be one of ${DEVICE_CHOICES.join(', ')}, got '${v}'`);
  return v as DeviceChoice;
}

/** The workloads of src/bench/steps.ts (listed here so that --help loads no tensor code). */
const BENCH_NAMES = ['egnn512', 'anneal5000', 'ditfull2048', 'mlp512'];

async function runBench(opts: BenchOptions): Promise<void> {
  const names = opts.only?.split(',').map((s) => s.trim()) ?? BENCH_NAMES;
  const unknown = names.filter((n) => !BENCH_NAMES.includes(n));
  if (unknown.length > 0) throw new UserError(`--only: unknown workload ${unknown.join(', ')} (known: ${BENCH_NAMES.join(', ')})`);
  // Loaded here: the tensor engine is for the commands that run networks.
  const { initTensorBackend } = await import('../tensor/backend.js');
  const { STEP_BENCHES, benchStep } = await import('../bench/steps.js');
  const info = await initTensorBackend(opts.device);
  console.error(`pita bench on ${info.device}`);
  const results: StepBenchResult[] = [];
  for (const spec of STEP_BENCHES.filter((b) => names.includes(b.name))) {
    const r = await benchStep(opts.batch ? { ...spec, batch: opts.batch } : spec, { steps: opts.steps, warmup: opts.warmup });
    console.log(`${r.name}\t${r.medianMs.toFixed(2)} ms/step (fastest ${r.minMs.toFixed(2)}, first ${r.firstMs.toFixed(0)})\t${r.dispatches} kernels replayed\t${r.label}`);
    results.push(r);
  }
  if (opts.json) writeFileSync(opts.json, JSON.stringify({ device: info.device, adapter: info.adapter, results }, null, 1));
}
