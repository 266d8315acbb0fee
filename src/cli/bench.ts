import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { AnnealStepTiming } from '../bench/anneal-step.js';
import type { ProductTiming } from '../bench/products.js';
import type { StepBenchResult } from '../bench/steps.js';
import type { TrainerStepTiming } from '../bench/trainer-step.js';
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
  workers: number;
  chunk: number;
  profile: boolean;
  againstCpu: boolean;
}

/** `pita bench`: times the paper's network steps on a device (the GPU rows of BENCHMARKS.md). */
export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description("time the paper's network steps (EGNN, DiT, MLP train steps; the annealing evaluation and whole annealing step; the DiT's matrix products) on a device")
    .option('--device <d>', `tensor device: ${DEVICE_CHOICES.join(' | ')}`, parseDevice, 'auto')
    .option('--only <names>', `comma-separated subset of ${BENCH_NAMES.join(', ')}`)
    .option('--steps <n>', 'timed steps per workload', parseCount('--steps', 1), 20)
    .option('--warmup <n>', 'untimed steps first (the capture among them)', parseCount('--warmup', 0), 3)
    .option('--batch <n>', 'override every workload\'s batch size (for a quick check)', parseCount('--batch', 1))
    .option('--workers <n>', "train256 (PITA's training step) on n data-parallel worker threads, timed against 1 (CPU only)", parseCount('--workers', 1), 1)
    .option('--chunk <n>', `particles per evaluation in ${ANNEAL_STEP_BENCH} (annealing.chunkSize)`, parseCount('--chunk', 1), 512)
    .option('--profile', 'after the timed steps, one more with each kernel timed on the GPU (timestamp queries); prints where the time goes', false)
    .option('--against-cpu', `run the same steps on the CPU too (a second process; at B=${AGAINST_CPU_BATCH} unless --batch is given) and compare each workload's check value`, false)
    .option('--json <file>', 'also write the results as JSON')
    .action((opts: BenchOptions) => runBench(opts));
}

/** Commander parser of --device. */
export function parseDevice(v: string): DeviceChoice {
  if (!(DEVICE_CHOICES as readonly string[]).includes(v)) throw new UserError(`--device must be one of ${DEVICE_CHOICES.join(', ')}, got '${v}'`);
  return v as DeviceChoice;
}

/** PITA's whole training step (src/bench/trainer-step.ts), the one workload that --workers spreads over threads. */
const TRAINER_BENCH = 'train256';

/** A whole annealing step of 5000 LJ-13 particles (src/bench/anneal-step.ts): the evaluations with the host's work around them. */
const ANNEAL_STEP_BENCH = 'annealstep5000';

/** The DiT's matrix products each alone, GPU time only (src/bench/products.ts). */
const PRODUCTS_BENCH = 'ditproducts';

/** The workloads of src/bench/steps.ts and the three above (listed here so that --help loads no tensor code). */
const BENCH_NAMES = ['egnn512', 'anneal5000', 'ditfull2048', 'mlp512', TRAINER_BENCH, ANNEAL_STEP_BENCH, PRODUCTS_BENCH];

/** --against-cpu's batch when none is given: the CPU would take minutes per step at the paper's batches. */
const AGAINST_CPU_BATCH = 16;

/**
 * The most a workload's check may differ from the CPU's, relative. The check is a sum of the step's
 * outputs after all its steps: float32 rounding differs between the engines from the first step
 * (a step's loss ~1e-6 apart) and grows through the training steps.
 */
const AGAINST_CPU_TOLERANCE = 1e-3;

/** One workload's check on the device against the CPU's. */
interface CheckComparison {
  name: string;
  check: number;
  cpuCheck: number;
  relative: number;
  /** relative ≤ AGAINST_CPU_TOLERANCE (false for a non-finite check). */
  agrees: boolean;
}

/**
 * The same step workloads on the CPU, in a child process (one process runs one device), with the same
 * batch, steps and warm-up; each workload's check beside the CPU's.
 */
function compareWithCpu(results: readonly StepBenchResult[], opts: { batch: number; steps: number; warmup: number }): CheckComparison[] {
  const dir = mkdtempSync(join(tmpdir(), 'pita-bench-cpu-'));
  try {
    const json = join(dir, 'cpu.json');
    const cli = fileURLToPath(new URL('../../bin/pita.js', import.meta.url));
    const args = ['bench', '--device', 'cpu', '--only', results.map((r) => r.name).join(','), '--batch', String(opts.batch), '--steps', String(opts.steps), '--warmup', String(opts.warmup), '--json', json];
    console.error(`pita bench: the same steps on the CPU, at B=${opts.batch}, in a second process`);
    const child = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
    if (child.status !== 0) {
      const why = child.error?.message ?? child.stderr.trim().split('\n').pop() ?? `exit code ${child.status}`;
      throw new UserError(`--against-cpu: the CPU run failed: ${why}`);
    }
    const cpu = JSON.parse(readFileSync(json, 'utf8')) as { results: StepBenchResult[] };
    return results.map((r) => {
      const c = cpu.results.find((x) => x.name === r.name);
      if (c === undefined) throw new Error(`--against-cpu: the CPU run has no ${r.name}`);
      const relative = Math.abs(r.check - c.check) / Math.abs(c.check);
      return { name: r.name, check: r.check, cpuCheck: c.check, relative, agrees: relative <= AGAINST_CPU_TOLERANCE };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** ", recording 1.2 GB (tensors 9.8 GB)" for a replayed step; nothing on the CPU. */
function recording(r: StepBenchResult): string {
  const { tensors, planned } = r.recordingBytes;
  return planned > 0 ? `, recording ${gigabytes(planned)} (its tensors ${gigabytes(tensors)})` : '';
}

const gigabytes = (n: number): string => `${(n / 1e9).toPrecision(3)} GB`;

/** The kernels that take 95 % of a profiled step's GPU time (at most 15), one line each. */
function printProfile(r: StepBenchResult): void {
  if (!r.profile) {
    console.log(`  (no profile: ${r.dispatches === 0 ? 'steps on the CPU are not replayed' : 'the device has no timestamp queries'})`);
    return;
  }
  const { kernels, totalMs } = r.profile;
  console.log(`  GPU time of ${r.dispatches} kernels, each timed alone: ${totalMs.toFixed(2)} ms (per kernel: time, share, dispatches, bytes bound, bytes per second, fewest threads a dispatch launched)`);
  let shown = 0;
  for (const k of kernels.slice(0, 15)) {
    if (shown >= 0.95 * totalMs) break;
    shown += k.ms;
    const rate = k.ms > 0 ? `${(k.bytes / k.ms / 1e6).toPrecision(3)} GB/s` : '';
    const cols = [`${k.ms.toFixed(3).padStart(9)} ms`, `${((100 * k.ms) / totalMs).toFixed(1).padStart(5)} %`, `${String(k.count).padStart(5)}×`, gigabytes(k.bytes).padStart(9), rate.padStart(11), `≥${k.minThreads} threads`.padStart(16)];
    console.log(`  ${cols.join(' ')}  ${k.kernel}`);
  }
}

/** "2×[M×K]·[K×N] Aᵀ": a product's operands, batch and transposes. */
function operands(p: { batch: number; M: number; N: number; K: number; transposeA: boolean; transposeB: boolean }): string {
  return `${p.batch > 1 ? `${p.batch}×` : ''}[${p.M}×${p.K}]·[${p.K}×${p.N}]${p.transposeA ? ' Aᵀ' : ''}${p.transposeB ? ' Bᵀ' : ''}`;
}

async function runBench(opts: BenchOptions): Promise<void> {
  const names = opts.only?.split(',').map((s) => s.trim()) ?? BENCH_NAMES;
  const unknown = names.filter((n) => !BENCH_NAMES.includes(n));
  if (unknown.length > 0) throw new UserError(`--only: unknown workload ${unknown.join(', ')} (known: ${BENCH_NAMES.join(', ')})`);
  // Loaded here: the tensor engine is for the commands that run networks.
  const { initTensorBackend } = await import('../tensor/backend.js');
  const { STEP_BENCHES, benchStep } = await import('../bench/steps.js');
  const info = await initTensorBackend(opts.device);
  if (names.includes(PRODUCTS_BENCH) && info.name === 'wasm') throw new UserError(`${PRODUCTS_BENCH} times GPU kernels, and this bench runs on ${info.device}; add --device webgpu`);
  if (opts.workers > 1 && info.name !== 'wasm') throw new UserError(`--workers ${opts.workers}: worker threads run the CPU engine only, and this bench runs on ${info.device}; add --device cpu`);
  if (opts.againstCpu) {
    if (info.name === 'wasm') throw new UserError(`--against-cpu compares another device with the CPU, and this bench runs on ${info.device}; add --device webgpu`);
    if (!names.some((n) => STEP_BENCHES.some((b) => b.name === n))) throw new UserError(`--against-cpu compares ${STEP_BENCHES.map((b) => b.name).join(', ')}; --only names none of them`);
  }
  const batch = opts.batch ?? (opts.againstCpu ? AGAINST_CPU_BATCH : undefined);
  console.error(`pita bench on ${info.device}`);
  const results: StepBenchResult[] = [];
  for (const spec of STEP_BENCHES.filter((b) => names.includes(b.name))) {
    const r = await benchStep(batch ? { ...spec, batch } : spec, { steps: opts.steps, warmup: opts.warmup, profile: opts.profile });
    console.log(`${r.name}\t${r.medianMs.toFixed(2)} ms/step (fastest ${r.minMs.toFixed(2)}, first ${r.firstMs.toFixed(0)})\t${r.dispatches} kernels replayed${recording(r)}\t${r.label}${batch ? `, run at B=${batch}` : ''}`);
    if (opts.profile) printProfile(r);
    results.push(r);
  }
  let trainer: TrainerStepTiming[] | undefined;
  if (names.includes(TRAINER_BENCH)) {
    const { benchTrainerStep } = await import('../bench/trainer-step.js');
    const trainBatch = batch ?? 256;
    trainer = await benchTrainerStep({ batch: trainBatch, workerCounts: opts.workers > 1 ? [1, opts.workers] : [1], steps: opts.steps, warmup: Math.max(1, opts.warmup) });
    const [one, many] = trainer;
    const parallel = many ? `, ${many.medianMs.toFixed(2)} on ${many.workers} workers (${(one.medianMs / many.medianMs).toFixed(2)}× speed-up)` : '';
    const through = one.trainMs === undefined ? '' : `, ${one.trainMs.toFixed(2)} through Trainer.train`;
    console.log(`${TRAINER_BENCH}\t${one.medianMs.toFixed(2)} ms/step on 1 worker${through}${parallel}\tPITA training step (four losses, clip, Adam, EMA), EGNN LJ-13 H=32 L=3, B=${trainBatch}`);
  }
  let annealStep: AnnealStepTiming | undefined;
  if (names.includes(ANNEAL_STEP_BENCH)) {
    const { benchAnnealStep } = await import('../bench/anneal-step.js');
    const a = await benchAnnealStep({ particles: batch ?? 5000, chunkSize: opts.chunk, steps: opts.steps, warmup: Math.max(1, opts.warmup) });
    annealStep = a;
    console.log(`${ANNEAL_STEP_BENCH}\t${a.medianMs.toFixed(2)} ms/step (fastest ${a.minMs.toFixed(2)})\tPITA annealing step, EGNN LJ-13 energy and score models, ${a.particles} particles in chunks of ${a.chunkSize}, discrete weights, noise on ${a.noiseThreads === 1 ? 'the main thread' : `${a.noiseThreads} worker threads`}`);
  }
  let products: ProductTiming[] | undefined;
  if (names.includes(PRODUCTS_BENCH)) {
    const { benchProducts, ditProducts } = await import('../bench/products.js');
    products = await benchProducts(ditProducts(batch ?? 2048), { runs: opts.steps, warmup: Math.max(1, opts.warmup) });
    for (const p of products) {
      const time = p.ms === null ? 'no GPU time (the device has no timestamp queries)' : `${p.ms.toFixed(3)} ms, ${p.tflops?.toPrecision(3)} TFLOP/s`;
      console.log(`${PRODUCTS_BENCH}\t${time}\t${operands(p)}, ${p.label}\t${p.kernels.join(' ')}`);
    }
  }
  // Products a captured step timed the matrix kernel's variants for (PITA_GEMM=auto), with the winner.
  const { timedMatmuls } = await import('../tensor/index.js');
  const matmuls = timedMatmuls();
  for (const t of matmuls) {
    const bias = t.shape.bias === 'none' ? '' : ` + ${t.shape.bias} bias`;
    const times = Object.entries(t.ms).map(([v, ms]) => `${v} ${ms.toFixed(3)}`).join(', ');
    const how = t.timer === 'gpu' ? `ms per product: ${times}` : t.timer === 'none' ? 'not timed (no timestamp queries)' : `not timed (${t.reason})`;
    console.log(`matmul variant\t${t.variant}\t${operands(t.shape)}${bias}\t${how}`);
  }
  const againstCpu = opts.againstCpu ? compareWithCpu(results, { batch: batch ?? AGAINST_CPU_BATCH, steps: opts.steps, warmup: opts.warmup }) : undefined;
  for (const c of againstCpu ?? []) {
    const verdict = c.agrees ? 'agrees' : `differs by more than ${AGAINST_CPU_TOLERANCE}`;
    console.log(`${c.name}\tcheck ${c.check.toPrecision(9)} here, ${c.cpuCheck.toPrecision(9)} on the CPU: relative difference ${c.relative.toExponential(1)}, ${verdict}`);
  }
  if (opts.json) writeFileSync(opts.json, JSON.stringify({ device: info.device, adapter: info.adapter, results, ...(trainer ? { trainer } : {}), ...(annealStep ? { annealStep } : {}), ...(products ? { products } : {}), ...(matmuls.length > 0 ? { matmuls } : {}), ...(againstCpu ? { againstCpu } : {}) }, null, 1));
  const off = againstCpu?.filter((c) => !c.agrees) ?? [];
  if (off.length > 0) {
    throw new UserError(`--against-cpu: ${off.map((c) => `${c.name} differs from the CPU by ${c.relative.toExponential(1)}`).join(', ')} (more than ${AGAINST_CPU_TOLERANCE}): do not trust ${info.device} for pita; --device cpu runs without it`);
  }
}
