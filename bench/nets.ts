/**
 * Network train-step throughput: the PITA energy-model step on the MLP, the
 * EGNN and the small DiT, against the same workloads in PyTorch on the CPU
 * (bench/pytorch/nets_bench.py), both single-threaded.
 *
 * One train step (identical in both):
 *   F = net(c_noise, x, β);  U = Σ_b ⟨F_b, x_b⟩;  g = ∇ₓU  (differentiable)
 *   loss = mean_b(‖g_b‖² + ‖F_b‖²);  ∂loss/∂θ (second order);  Adam(lr 1e-3)
 * Here g = Jᵀx + F is taken from one forward: valueAndGrad(F, x, dy = x)
 * returns F and the vector–Jacobian product Jᵀx.
 *
 * Each workload runs in its own process (this file with --worker), so that
 * its peak RSS is its own. steps/s is from the FASTEST of the timed steps
 * after two warm-up steps, in both TS and PyTorch: on a shared machine other
 * load only ever slows a step down, so the fastest step is the most
 * reproducible figure and the ratio compares like with like (the median is
 * given in the notes); "tape" is the live tensor bytes at the end of the forward
 * and first backward pass (the saved activations the second-order backward
 * consumes); RSS is the process's peak resident set (wasm heap included).
 *
 * PyTorch runs Debian's python3-torch (`/usr/bin/python3`), installed with
 * apt-get if missing (skipped with a message otherwise). Debian's default
 * libblas.so.3 is the unoptimised reference BLAS, which makes PyTorch's
 * matmuls ~10× slower than usual; the baseline therefore uses OpenBLAS
 * (libopenblas0-serial: the system's if installed, else `apt-get download`ed
 * into a temporary directory and put on LD_LIBRARY_PATH for the benchmark
 * process only), and the reference-BLAS figure is reported beside it. glibc
 * malloc is told to keep freed memory (PY_MALLOC_ENV), without which
 * PyTorch's larger workloads lose up to half their steps to page faults.
 *
 * What limits the ratio (per-kernel timing of one step, tfjs-wasm 4.22 with
 * pita's SIMD matmul and tanh kernels, docs/tensor-engine.md §2.11): 2-D
 * matmuls run at 36–40 GFLOP/s, about half of OpenBLAS's 77–93 on the same
 * shapes (wasm SIMD is 128 bits wide and has no fused multiply-add in Node 20;
 * OpenBLAS uses AVX2/AVX-512 FMA), which bounds the MLP row; the EGNN rows are
 * further bound by elementwise passes over [B,13,13,32] (Multiply, Add,
 * Sigmoid, Sum: ~60 % of the step's kernel time, one pass per op where
 * PyTorch's are of the same kind). Batched products (the DiT's attention)
 * run at 21–23 GFLOP/s, PyTorch's bmm at ~19.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Rng } from '../src/core/rng.js';
import { createNetwork } from '../src/nets/index.js';
import * as T from '../src/tensor/index.js';
import { ALDP, LJ13, type StepBench } from '../src/bench/steps.js';
import { type BenchRow, formatNumber } from './harness.js';

/** A CPU row: a step benchmark's network and batch (src/bench/steps.ts), timed here against PyTorch on one thread. */
interface Workload extends Omit<StepBench, 'mode'> {
  steps: number;
  /** What bounds the TS step (kernel-time profile, 2026-11, tfjs-wasm 4.22). */
  limits: string;
}

const EGNN_LIMITS = 'elementwise passes over [B,13,13,32] (Multiply, Add, Sigmoid, Sum) and 2-D matmuls at about half of OpenBLAS';

/** The same four workloads as bench/pytorch/nets_bench.py (names must match). */
const WORKLOADS: Workload[] = [
  { name: 'mlp', label: 'MLP D=39 H=128 2 layers, β-cond. (B=512)', kind: 'mlp', config: { hidden: 128, layers: 2, conditionOnTemperature: true }, geometry: LJ13, batch: 512, steps: 15, limits: "matmuls: pita's wasm SIMD kernel 36–40 GFLOP/s, OpenBLAS (AVX FMA) 77–93 on these shapes" },
  { name: 'egnn64', label: 'EGNN LJ-13 H=32 L=3, β-cond. (B=64)', kind: 'egnn', config: { conditionOnTemperature: true }, geometry: LJ13, batch: 64, steps: 7, limits: EGNN_LIMITS },
  { name: 'egnn256', label: 'EGNN LJ-13 H=32 L=3, β-cond. (B=256)', kind: 'egnn', config: { conditionOnTemperature: true }, geometry: LJ13, batch: 256, steps: 5, limits: EGNN_LIMITS },
  { name: 'dit256', label: 'DiT small ALDP n=22 H=64 2 blocks (B=256)', kind: 'dit', config: { preset: 'small' }, geometry: ALDP, batch: 256, steps: 5, limits: '2-D matmuls at about half of OpenBLAS; elementwise passes (the batched attention products and GELU tanh were 45 % of the step before pita\'s SIMD kernels)' },
];

interface WorkerResult {
  /** From the fastest timed step. */
  stepsPerSecond: number;
  /** From the median timed step. */
  medianStepsPerSecond: number;
  tapeBytes: number;
  peakRssBytes: number;
  params: number;
}

const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

/** Runs one workload in this process and returns its measurements. */
async function runWorker(w: Workload): Promise<WorkerResult> {
  await T.initTensorBackend();
  const rng = new Rng(0);
  const net = createNetwork(w.kind, w.config, w.geometry, rng);
  const B = w.batch;
  const x = T.keep(T.fromF64(rng.normals(B * net.dim), [B, net.dim]));
  const c = T.keep(T.fromF64(rng.normals(B), [B, 1]));
  const beta = net.conditionOnTemperature ? T.keep(T.fromF64(rng.uniforms(B, 0.5, 1), [B, 1])) : null;
  const opt = new T.Adam(net.params, { lr: 1e-3 });
  let tapeBytes = 0;
  const step = (): void =>
    T.scope(() => {
      const { grads } = T.valueAndParamGrads(() => {
        const { value: F, grad: jtx } = T.valueAndGrad((xv) => net.apply(c, xv, beta), x, x);
        const g = T.add(jtx, F);
        const loss = T.mul(T.add(T.sum(T.square(g)), T.sum(T.square(F))), 1 / B);
        tapeBytes = Math.max(tapeBytes, T.memory().numBytes);
        return loss;
      }, net.params);
      opt.step(grads);
    });
  step();
  step();
  const times: number[] = [];
  for (let i = 0; i < w.steps; i++) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  return {
    stepsPerSecond: 1000 / Math.min(...times),
    medianStepsPerSecond: 1000 / median(times),
    tapeBytes,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    params: net.params.numValues(),
  };
}

/** The last line of a child's stdout, parsed as JSON (throws with its stderr on failure). */
function lastJsonLine<R>(what: string, r: ReturnType<typeof spawnSync>): R {
  const out = String(r.stdout ?? '').trim().split('\n');
  if (r.status !== 0 || out.length === 0) {
    throw new Error(`${what} failed (exit ${r.status}): ${String(r.stderr ?? '').slice(-2000)}`);
  }
  return JSON.parse(out[out.length - 1]) as R;
}

function runTsWorkload(w: Workload): WorkerResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--worker', w.name], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  return lastJsonLine(`TS workload ${w.name}`, r);
}

// ---------------------------------------------------------------- PyTorch

const PYTHON = '/usr/bin/python3';
const PY_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'pytorch', 'nets_bench.py');

interface PyResult {
  steps_per_s: number;
  steps_per_s_median: number;
  maxrss_mb: number;
  params: number;
  torch: string;
}

function hasTorch(): boolean {
  return existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
}

/** Makes `import torch` work with Debian's python3-torch, or returns why it cannot. */
function ensureTorch(): string | null {
  if (hasTorch()) return null;
  if (spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status !== 0) return 'python3-torch is missing and apt-get is unavailable';
  console.error('bench nets: installing python3-torch with apt-get …');
  const r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'python3-torch'], { stdio: 'inherit' });
  if (r.status !== 0 || !hasTorch()) return `apt-get install python3-torch failed (exit ${r.status})`;
  return null;
}

/** A directory holding OpenBLAS's libblas.so.3, or null (system copy first, else fetched with apt-get download). */
function openBlasDirectory(): string | null {
  for (const dir of ['/usr/lib/x86_64-linux-gnu/openblas-serial', '/usr/lib/x86_64-linux-gnu/openblas-pthread']) {
    if (existsSync(path.join(dir, 'libblas.so.3'))) return dir;
  }
  const cache = path.join(os.tmpdir(), 'pita-bench-openblas');
  const dir = path.join(cache, 'root', 'usr', 'lib', 'x86_64-linux-gnu', 'openblas-serial');
  if (existsSync(path.join(dir, 'libblas.so.3'))) return dir;
  try {
    mkdirSync(cache, { recursive: true });
    execFileSync('apt-get', ['download', 'libopenblas0-serial'], { cwd: cache, stdio: 'ignore' });
    const deb = readdirSync(cache).find((f) => f.startsWith('libopenblas0-serial') && f.endsWith('.deb'));
    if (deb === undefined) return null;
    execFileSync('dpkg', ['-x', deb, 'root'], { cwd: cache, stdio: 'ignore' });
  } catch {
    return null;
  }
  return existsSync(path.join(dir, 'libblas.so.3')) ? dir : null;
}

function systemBlas(): string {
  try {
    return realpathSync('/usr/lib/x86_64-linux-gnu/libblas.so.3');
  } catch {
    return 'unknown';
  }
}

/**
 * glibc malloc settings for the PyTorch process: keep freed blocks up to 32 MiB
 * (glibc's largest mmap threshold) in the heap instead of unmapping them, and
 * never trim it. With the defaults, PyTorch's activations were mapped and
 * unmapped on every step and its step times were bimodal from page faults:
 * EGNN B = 256 275–661 ms and the DiT 692–845 ms within one run, against
 * 277–402 and 276–307 ms with these (2026-12-06). pita's tensors live in one
 * wasm heap that only grows, so it pays no such cost.
 */
const PY_MALLOC_ENV = { MALLOC_MMAP_THRESHOLD_: String(32 << 20), MALLOC_TRIM_THRESHOLD_: String(2 ** 36), MALLOC_TOP_PAD_: String(2 ** 30) };

function runPyWorkload(name: string, libDir: string | null): PyResult {
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', MKL_NUM_THREADS: '1', ...PY_MALLOC_ENV };
  if (libDir !== null) env.LD_LIBRARY_PATH = [libDir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  const r = spawnSync(PYTHON, [PY_SCRIPT, name], { encoding: 'utf8', env, maxBuffer: 1 << 20 });
  return lastJsonLine(`PyTorch workload ${name}`, r);
}

// ---------------------------------------------------------------- rows

const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MB`;

export function benchNets(): BenchRow[] {
  const torchProblem = ensureTorch();
  if (torchProblem !== null) console.error(`bench nets: PyTorch baseline skipped: ${torchProblem}`);
  const blas = systemBlas();
  const referenceBlas = blas.includes('/blas/');
  const openBlas = torchProblem === null && referenceBlas ? openBlasDirectory() : null;
  const baselineBlas = referenceBlas ? (openBlas === null ? 'reference BLAS' : 'OpenBLAS') : path.basename(path.dirname(blas));
  const rows: BenchRow[] = [];
  for (const w of WORKLOADS) {
    console.error(`bench nets: ${w.name} …`);
    const ts = runTsWorkload(w);
    const py = torchProblem === null ? runPyWorkload(w.name, openBlas) : null;
    const pyRef = py !== null && openBlas !== null ? runPyWorkload(w.name, null) : null;
    const samples = formatNumber(ts.stepsPerSecond * w.batch);
    const vs = py === null ? `PyTorch skipped (${torchProblem})` : `TS/PyTorch ${(ts.stepsPerSecond / py.steps_per_s).toFixed(2)}`;
    rows.push({
      section: 'nets',
      name: `${w.label} energy train step`,
      value: ts.stepsPerSecond,
      unit: 'steps/s (fastest step)',
      notes: `${samples} samples/s (median step: ${ts.medianStepsPerSecond.toPrecision(3)} steps/s); ${vs}; peak RSS ${mb(ts.peakRssBytes)}, tape ${mb(ts.tapeBytes)}; ${ts.params} params; bound by ${w.limits}`,
    });
    if (py !== null) {
      const ref = pyRef === null ? '' : `; with Debian's default reference BLAS ${pyRef.steps_per_s.toPrecision(3)} steps/s`;
      rows.push({
        section: 'nets',
        name: `PyTorch ${py.torch} CPU 1 thread, ${baselineBlas}, glibc malloc kept: ${w.label}`,
        value: py.steps_per_s,
        unit: 'steps/s (fastest step)',
        notes: `${formatNumber(py.steps_per_s * w.batch)} samples/s (median step: ${py.steps_per_s_median.toPrecision(3)} steps/s); peak RSS ${py.maxrss_mb.toFixed(0)} MB${ref}`,
      });
    }
  }
  return rows;
}

if (process.argv[2] === '--worker' && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const w = WORKLOADS.find((v) => v.name === process.argv[3]);
  if (w === undefined) throw new Error(`unknown workload '${process.argv[3]}'; valid: ${WORKLOADS.map((v) => v.name).join(', ')}`);
  console.log(JSON.stringify(await runWorker(w)));
}
