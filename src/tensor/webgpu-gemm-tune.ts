/**
 * Times the variants of pita's tiled matrix kernel (webgpu-gemm.ts) on the GPU in use, and chooses the
 * fastest for each large product of a captured step (docs/tensor-engine.md §2.31).
 *
 * Why: which variant is fastest depends on the GPU (its shared-memory banks, registers per thread, how
 * many workgroups fit on a multiprocessor) and on the product's shape, and a CPU cannot tell. Every
 * variant gives the same bits, so choosing by time changes no result: a run repeats bit for bit whatever
 * the timings were.
 *
 * How: each product (a GemmCase: its shape, flags and input ranks) runs in a captured step of its own,
 * on operands filled on the GPU, `dispatches` times on each variant, and the step is replayed `runs` times
 * with every dispatch timed by the GPU's timestamps (`timeCase`). replay.ts then points the recorded
 * dispatches at the winner's pipeline.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import type { CapturedStep, StepSpec } from './replay.js';
import { type Tensor, wrap } from './tensor.js';
import { GpuError } from './gpu-errors.js';
import { DEFAULT_VARIANT, GEMM_VARIANTS, type GemmCase, type GemmTuned, gemmProgram, gemmTuning, tunedGemms, variantsThatFit, workgroupLimit } from './webgpu-gemm.js';

type Capture = (spec: StepSpec) => CapturedStep;

/** Timings run one after another (two steps captured together may ask for the same product). */
let queue: Promise<unknown> = Promise.resolve();

/** Times every case not timed yet on this device; resolves with each case's result (new or earlier). */
export function tuneGemms(cases: readonly GemmCase[], capture: Capture): Promise<Map<string, GemmTuned>> {
  const next = queue.then(() => tuneNow(cases, capture));
  queue = next.catch(() => {});
  return next;
}

async function tuneNow(cases: readonly GemmCase[], capture: Capture): Promise<Map<string, GemmTuned>> {
  const be = tf.backend() as unknown as WebGPUBackend;
  const tuned = tunedGemms(be.device);
  for (const c of cases) {
    if (tuned.has(c.key)) continue;
    let t: GemmTuned;
    try {
      t = await timeCase(be, c, capture);
    } catch (e) {
      // The device refused the timing step (its memory beside the step's, say): the step keeps the default.
      // Anything else is a defect, and surfaces.
      if (!(e instanceof GpuError)) throw e;
      t = { shape: c.shape, variant: DEFAULT_VARIANT, ms: {}, timer: 'failed', reason: e.message };
    }
    tuned.set(c.key, t);
  }
  return new Map(cases.map((c) => [c.key, tuned.get(c.key) as GemmTuned]));
}

/**
 * Every candidate variant of one product, in one captured step: `dispatches` rounds of one product per
 * variant (interleaved, so that no variant gets the GPU's warm-up alone), each dispatch timed by the GPU.
 * A variant's time is its fastest dispatch; the winner the fastest variant (ties: the earlier in
 * GEMM_VARIANTS, which lists the default first). Without timestamp queries nothing is timed and the
 * default runs.
 */
async function timeCase(be: WebGPUBackend, c: GemmCase, capture: Capture): Promise<GemmTuned> {
  // Variants whose tiles exceed the device's workgroup memory would fail the whole timing step: not candidates.
  const variants = variantsThatFit(gemmTuning.candidates ?? Object.keys(GEMM_VARIANTS), workgroupLimit(be.device));
  if (variants.length === 0) throw new Error('gemmTuning.candidates: no variant to time');
  const programs: ReturnType<typeof gemmProgram>['program'][] = [];
  const step = capture({
    inputs: [],
    state: () => [],
    step: () => {
      const [a, b, bias] = c.inputs.map((shape) => tf.fill(shape, 0.5, 'float32'));
      const firsts: Tensor[] = [];
      for (let d = 0; d < gemmTuning.dispatches; d++) {
        for (const variant of variants) {
          const { out, program } = gemmProgram(be, a, b, c.shape, bias, variant);
          programs.push(program);
          // One number of each product is read: without a reader its kernel would be left out of the step.
          const t = tf.engine().makeTensorFromTensorInfo(out);
          firsts.push(wrap(tf.slice(t, t.shape.map(() => 0), t.shape.map(() => 1))));
        }
      }
      return firsts;
    },
  });
  try {
    await step.run([]);
    const ms: Record<string, number> = {};
    for (let r = 0; r < gemmTuning.runs; r++) {
      const p = await step.profile([]);
      if (p === null) return { shape: c.shape, variant: DEFAULT_VARIANT, ms: {}, timer: 'none' };
      const times = p.dispatches.filter((d) => d.kernel.startsWith('pita_gemm'));
      if (times.length !== programs.length) throw new Error(`timing matmul variants: ${times.length} products profiled, ${programs.length} recorded`);
      times.forEach((d, i) => {
        const v = programs[i].gemm.variant;
        ms[v] = Math.min(ms[v] ?? Infinity, d.ms);
      });
    }
    const variant = variants.reduce((best, v) => (ms[v] < ms[best] ? v : best));
    return { shape: c.shape, variant, ms, timer: 'gpu', replay: replayOf(programs[variants.indexOf(variant)]) };
  } finally {
    step.dispose();
  }
}

/** What replaying a program's dispatch needs: its pipeline (compiled by tfjs as it ran it), workgroups and workgroup size. */
function replayOf(program: ReturnType<typeof gemmProgram>['program']): NonNullable<GemmTuned['replay']> {
  if (!(program.pipeline instanceof GPUComputePipeline)) throw new Error(`timing matmul variant ${program.gemm.variant}: tfjs compiled no pipeline`);
  return { pipeline: program.pipeline, dispatch: [...program.dispatch], workgroupSize: [...program.workgroupSize] };
}

/** The products timed on the device in use, for reports (none on the CPU): shape, winner, each variant's time. */
export function timedMatmuls(): Omit<GemmTuned, 'replay'>[] {
  const be = tf.backend() as unknown as Partial<WebGPUBackend>;
  if (be.device === undefined) return [];
  return [...tunedGemms(be.device).values()].map(({ replay: _, ...t }) => t);
}
