/**
 * pita's own WebGPU kernels.
 *
 * `PitaActivation`: an activation or its derivative in one pass.
 * Why: on the GPU the second-order steps are bound by elementwise passes over
 * the networks' widest tensors (the EGNN's [B, 13, 13, H] pair features, the
 * DiT's MLP width), and tfjs runs every op of a composite as its own kernel:
 * SiLU′ = σ(1 + x(1 − σ)) was five passes over memory, GELU′ about fifteen.
 * `PitaActivation` computes each of these functions of one input in a single
 * kernel. It is forward-only: the ops layer calls it inside custom-gradient
 * ops (ops.ts) whose derivatives are defined there, and on the CPU the same
 * ops run their composites (kernels.ts `activation`). The WebGPU parity tests
 * compare the two to second order.
 *
 * `PitaUpdate`: Adam's m, v and parameter update and the EMA's shadow update,
 * one kernel per parameter each instead of ~14 (kernels.ts `update`): the
 * optimiser was ~40 % of the kernels of the EGNN training step.
 *
 * `Sum` (in place of tfjs's): tfjs transposes the reduced axes to the end
 * and gives each output one workgroup, so the EGNN's sums over its 13
 * neighbours ([B·13, 13, H], r = 13) ran a full transpose and then 64
 * threads per 13 numbers, and the bias gradients (r = B·169, 32 outputs)
 * used 32 workgroups of the whole GPU. Here a sum over one block of
 * adjacent axes, the input viewed as [outer, r, inner], gives each output
 * one thread that reads its column in place (neighbouring threads read
 * neighbouring numbers); when there are few outputs and r is long, r is
 * split into interleaved partial sums first, in as many passes as needed.
 * Axes in several blocks take one such reduction per block. Other dtypes
 * keep tfjs's kernel. `PitaSumSquares` (Σ x², gradient clipping's ‖g_p‖²)
 * is the same reduction squaring in its first pass.
 *
 * `PitaSoftmax`: softmax along the last axis in one kernel instead of five
 * (max, subtract, exp, sum, divide); used inside the custom-gradient softmax
 * of ops.ts. `PitaNormalise` and `PitaNormaliseVjp`: LayerNorm's
 * normalisation along the last axis and its VJP, one kernel each (the
 * forwards of the custom ops in ops.ts). These, sums along the last axis and
 * fused expressions summed along it share each row between neighbouring
 * threads (webgpu-lanes.ts), so that their reads are coalesced.
 *
 * `PitaFused`: an elementwise expression of broadcasting inputs in one kernel, summed over some axes
 * or not (fused.ts generates its WGSL; its gradient, fused-op.ts, is again this kernel).
 * `BatchMatMul` and `_FusedMatMul` are tfjs's with long inner dimensions split in a fixed order, and
 * pita's tiled kernel for large outputs (webgpu-matmul.ts, webgpu-gemm.ts). `SplitV` along the first
 * axis gives, inside a captured step, views of the blocks of rows instead of copies where the plan can
 * bind them in place (flat-update.ts `view`: the EGNN's weights split into the rows that multiply h_i,
 * h_j, r, …); elsewhere it is tfjs's.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { webgpu_util } from '@tensorflow/tfjs-backend-webgpu';
import {
  ACTIVATION_KERNEL,
  type ActivationFn,
  FUSED_KERNEL,
  FUSED_LINEAR_KERNEL,
  HEADS_MATMUL_KERNEL,
  NORMALISE_KERNEL,
  NORMALISE_VJP_KERNEL,
  ROPE_KERNEL,
  ROW_SCALE_KERNEL,
  type RopeLayout,
  SOFTMAX_KERNEL,
  SUM_SQUARES_KERNEL,
  UPDATE_KERNEL,
  type UpdateFn,
} from './kernels.js';
import { UserError } from '../core/errors.js';
import { viewRecorder } from './flat-update.js';
import { LANE_GROUP, SUM_ENOUGH_OUTPUTS, laneReductions, lanesFor } from './webgpu-lanes.js';
import { batchMatMulKernel, fusedMatMulKernel, headsMatMulKernel } from './webgpu-matmul.js';

/** σ, tanh (tfjs's overflow-safe forms) and GELU's u(x) = √(2/π)(x + 0.044715x³), u′(x). */
const HELPERS = `
fn pitaSigmoid(a : f32) -> f32 { return 1.0 / (1.0 + exp(-a)); }
fn pitaTanh(a : f32) -> f32 { let e = exp(-2.0 * abs(a)); return sign(a) * (1.0 - e) / (1.0 + e); }
fn pitaGeluU(a : f32) -> f32 { return ${Math.sqrt(2 / Math.PI)} * (a + 0.044715 * a * a * a); }
fn pitaGeluDu(a : f32) -> f32 { return ${Math.sqrt(2 / Math.PI)} * (1.0 + ${3 * 0.044715} * a * a); }
`;

/** Body of `fn activation(a : f32) -> f32` for each function (the formulas of ops.ts). */
const BODIES: Record<ActivationFn, string> = {
  silu: 'return a * pitaSigmoid(a);',
  siluGrad: 'let s = pitaSigmoid(a); return s * (1.0 + a * (1.0 - s));',
  sigmoidGrad: 'let s = pitaSigmoid(a); return s * (1.0 - s);',
  tanhGrad: 'let t = pitaTanh(a); return 1.0 - t * t;',
  gelu: 'return 0.5 * a * (1.0 + pitaTanh(pitaGeluU(a)));',
  geluGrad: 'let t = pitaTanh(pitaGeluU(a)); return 0.5 * (1.0 + t) + 0.5 * a * (1.0 - t * t) * pitaGeluDu(a);',
};

/** A flat elementwise program: output[index] = value(index), where `code` defines `fn value(index : i32) -> f32`. */
class ElementwiseProgram implements WebGPUProgram {
  readonly size = true;
  readonly workgroupSize: [number, number, number] = [128, 1, 1];
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];

  constructor(
    readonly outputShape: number[],
    readonly variableNames: string[],
    readonly shaderKey: string,
    private readonly code: string,
    readonly uniforms?: string,
  ) {
    this.dispatchLayout = webgpu_util.flatDispatchLayout(outputShape);
    this.dispatch = webgpu_util.computeDispatch(this.dispatchLayout, outputShape, this.workgroupSize);
  }

  getUserCode(): string {
    return `${this.code}
fn main(index : i32) {
  if (index < uniforms.size) {
    setOutputAtIndex(index, value(index));
  }
}`;
  }
}

function activationProgram(shape: number[], fn: ActivationFn): WebGPUProgram {
  return new ElementwiseProgram(shape, ['A'], `pita_activation_${fn}`, `${HELPERS}\nfn value(index : i32) -> f32 { let a = getAByOutputIndex(index); ${BODIES[fn]} }`);
}

/** Row-major strides of `shape`, with 0 on axes where it has extent 1 (those broadcast). */
function broadcastStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let a = shape.length - 1; a >= 0; a--) {
    strides[a] = shape[a] === 1 ? 0 : s;
    s *= shape[a];
  }
  return strides;
}

/** Σ of `c_a·stride_a` as WGSL (terms with stride 0 left out), or '0'. */
const linearForm = (coords: string[], strides: number[]): string =>
  coords
    .map((c, a) => (strides[a] === 0 || c === '0' ? '' : strides[a] === 1 ? c : `${c} * ${strides[a]}`))
    .filter((t) => t !== '')
    .join(' + ') || '0';

/**
 * A fused expression (fused.ts `wgslBody` gives `value`) evaluated over the shape S and summed to the
 * output shape (S's rank; an axis of extent 1 there is summed). One thread per output element reads
 * its inputs at flat offsets (a broadcast axis has stride 0) and adds the summed positions in
 * row-major order; a sum along the last axis of more than 8 positions is shared by lanes instead
 * (webgpu-lanes.ts: lane ℓ adds positions ℓ, ℓ + lanes, …, then a fixed tree), so a result does not
 * depend on the launch either way. Shapes are compiled in (the shader key names them: tfjs's key holds
 * only ranks).
 */
class FusedProgram implements WebGPUProgram {
  readonly size = true;
  readonly workgroupSize: [number, number, number];
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];
  readonly variableNames: string[];
  readonly shaderKey: string;
  /** Threads per output: more than one when the sum runs along the last axis (webgpu-lanes.ts). */
  private readonly lanes: number;

  /**
   * `addend`: one more input, laid out as the output, added to each result (accumulate.ts). `tree`: lanes
   * of a workgroup's tree per output (sumTreeLanes), the summed positions in the order pita's Sum takes them.
   */
  constructor(
    readonly outputShape: number[],
    private readonly shape: number[],
    private readonly inputShapes: number[][],
    key: string,
    private readonly code: string,
    private readonly addend: boolean,
    tree = 0,
  ) {
    this.variableNames = [...inputShapes.map((_, i) => `in${i}`), ...(addend ? ['addend'] : [])];
    const summed = outputShape.some((d, a) => d !== shape[a]);
    const count = product(shape) / Math.max(1, product(outputShape));
    const lastSummed = outputShape[shape.length - 1] !== shape[shape.length - 1];
    this.lanes = tree > 0 ? tree : lastSummed && count > LANES_FROM ? lanesFor(count) : 1;
    this.workgroupSize = [this.lanes > 1 ? Math.max(LANE_GROUP, this.lanes) : 128, 1, 1];
    const threads = [product(outputShape) * this.lanes];
    this.dispatchLayout = webgpu_util.flatDispatchLayout(threads);
    this.dispatch = webgpu_util.computeDispatch(this.dispatchLayout, threads, this.workgroupSize);
    // Named 'fusedrowsum' with lanes, 'fusedtreesum' with a tree (profiles cut a key after its third part).
    const kind = tree > 0 ? 'fusedtreesum' : this.lanes > 1 ? 'fusedrowsum' : summed ? 'fusedsum' : 'fused';
    const lanes = this.lanes > 1 ? `_l${this.lanes}` : '';
    this.shaderKey = `pita_${kind}${addend ? 'add' : ''}_${key}${lanes}_${[shape, outputShape, ...inputShapes].map((s) => s.join(',')).join(';')}`;
  }

  getUserCode(): string {
    const { shape, outputShape: out } = this;
    const n = shape.length;
    const strides = this.inputShapes.map((s) => broadcastStrides([...new Array<number>(n - s.length).fill(1), ...s]));
    const outStrides = broadcastStrides(out);
    const summedAxes = shape.map((_, a) => a).filter((a) => out[a] !== shape[a]);
    const L = this.lanes;
    // The output element: the thread's index, or with lanes, its row's (each lane then takes every L-th position).
    const at = L > 1 ? 'o' : 'index';
    const lines: string[] = L > 1 ? [`let o = index / ${L};`, `let lane = index % ${L};`, 'let valid = o < uniforms.size;'] : [];
    const coords = shape.map((_, a) => `c${a}`);
    // The coordinates of the thread's output element ('0' on summed axes and on those no input reads).
    shape.forEach((_, a) => {
      if (summedAxes.includes(a) || out[a] === 1 || strides.every((s) => s[a] === 0)) coords[a] = '0';
      else lines.push(`let c${a} = (${at} / ${outStrides[a]}) % ${out[a]};`);
    });
    // An input laid out as the output (no sum) is read at the thread's own index.
    const sameAsOut = (s: number[]): boolean => summedAxes.length === 0 && s.every((v, a) => v === outStrides[a]);
    strides.forEach((s, i) => lines.push(`let base${i} = ${sameAsOut(s) ? 'index' : linearForm(coords, s)};`));
    const args = (offset: (i: number) => string): string => strides.map((_, i) => `in${i}[${offset(i)}]`).join(', ');
    const plus = this.addend ? ` + addend[${at}]` : '';
    if (summedAxes.length === 0) {
      lines.push(`setOutputAtIndex(index, value(${args((i) => `base${i}`)})${plus});`);
    } else {
      const extents = summedAxes.map((a) => shape[a]);
      const count = extents.reduce((p, q) => p * q, 1);
      const inner = summedAxes.map((_, j) => extents.slice(j + 1).reduce((p, q) => p * q, 1));
      const summedCoords = shape.map((_, a) => {
        const j = summedAxes.indexOf(a);
        return j < 0 ? '0' : `s${a}`;
      });
      lines.push('var acc = 0.0;', L > 1 ? `for (var r = lane; valid && r < ${count}; r = r + ${L}) {` : `for (var r = 0; r < ${count}; r = r + 1) {`);
      summedAxes.forEach((a, j) => lines.push(`  let s${a} = ${j === 0 ? `r / ${inner[j]}` : `(r / ${inner[j]}) % ${extents[j]}`};`));
      lines.push(`  acc = acc + value(${args((i) => `base${i} + ${linearForm(summedCoords, strides[i])}`)});`, '}');
      if (L > 1) lines.push('acc = laneSum(acc);', `if (valid && lane == 0) { setOutputAtIndex(o, acc${plus}); }`);
      else lines.push(`setOutputAtIndex(index, acc${plus});`);
    }
    // Lanes call barriers (laneSum): every thread runs the body, the loads guarded by \`valid\`.
    const body = L > 1 ? lines.join('\n  ') : `if (index < uniforms.size) {\n    ${lines.join('\n    ')}\n  }`;
    return `${HELPERS}
${L > 1 ? laneReductions(L, this.workgroupSize[0]) : ''}
${this.code}
fn main(index : i32) {
  ${body}
}`;
  }
}

/**
 * A transpose of rank ≥ 3 (the DiT's heads: [B, n, h, d] ↔ [B, h, n, d]) with its shapes compiled in.
 * tfjs's kernel finds each output element's coordinates by dividing by strides held in uniforms: three
 * integer divisions by values the compiler does not know, some 25 instructions each on a GPU, for every
 * number moved, which makes a copy of 35 MB (a DiT activation at B = 2048) wait on arithmetic rather
 * than memory. Dividing by constants is a multiply and a shift. One thread per output element; where the
 * last axis stays last, neighbouring threads read and write neighbouring numbers.
 */
class TransposeProgram implements WebGPUProgram {
  readonly size = true;
  readonly variableNames = ['x'];
  readonly workgroupSize: [number, number, number] = [128, 1, 1];
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];
  readonly shaderKey: string;

  constructor(
    readonly outputShape: number[],
    private readonly perm: readonly number[],
    private readonly inShape: readonly number[],
  ) {
    this.dispatchLayout = webgpu_util.flatDispatchLayout(outputShape);
    this.dispatch = webgpu_util.computeDispatch(this.dispatchLayout, outputShape, this.workgroupSize);
    this.shaderKey = `pita_transpose_${perm.join(',')}_${inShape.join(',')}`;
  }

  getUserCode(): string {
    const out = this.outputShape;
    const outStrides = broadcastStrides(out);
    const inStrides = broadcastStrides(this.inShape);
    // Output axis a is input axis perm[a]: its coordinate steps the input by that axis's stride.
    const coords = out.map((d, a) => (d === 1 ? '0' : `((index / ${outStrides[a]}) % ${d})`));
    return `
fn main(index : i32) {
  if (index < uniforms.size) {
    setOutputAtIndex(index, x[${linearForm(coords, this.perm.map((p) => inStrides[p]))}]);
  }
}`;
  }
}

/**
 * RoPE's rotation (ops.ts `ropeT`): y = x ⊙ C + (x·R) ⊙ S in one pass, R read as what it is, each adjacent
 * pair (2k, 2k+1) of the last axis turned: the partner of flat index i is i ^ 1 (the last axis, and a head,
 * has even length). Replaces a [·, d]·[d, d] product and a fused expression per rotation (§2.30). With a
 * head layout (§2.32) output element o reads input element i of the other layout: 'toHeads' writes
 * [B·heads, n, d] from [B, n, W], 'fromHeads' the reverse; the tables are indexed in the token layout.
 */
function ropeProgram(x: tf.TensorInfo, inverse: boolean, layout: RopeLayout, heads: number, n: number, w: number): WebGPUProgram {
  // (x·R)_{2k} = −x_{2k+1}, (x·R)_{2k+1} = x_{2k}; the inverse rotation negates S.
  const [even, odd] = inverse ? ['1.0', '-1.0'] : ['-1.0', '1.0'];
  const d = w / heads;
  // i: x's element that output element o holds; at: its place in the tables (token layout).
  const where = {
    tokens: `let i = o;
  let at = o % ${n * w};`,
    toHeads: `let j = o % ${d};
  let p = (o / ${d}) % ${n};
  let h = (o / ${n * d}) % ${heads};
  let b = o / ${n * w};
  let i = ((b * ${n} + p) * ${heads} + h) * ${d} + j;
  let at = i % ${n * w};`,
    fromHeads: `let at = o % ${n * w};
  let j = o % ${d};
  let h = (o / ${d}) % ${heads};
  let p = (o / ${w}) % ${n};
  let b = o / ${n * w};
  let i = ((b * ${heads} + h) * ${n} + p) * ${d} + j;`,
  }[layout];
  const code = `fn value(o : i32) -> f32 {
  ${where}
  let turn = select(${odd}, ${even}, (i & 1) == 0) * x[i ^ 1];
  return x[i] * cosT[at] + turn * sinT[at];
}`;
  const B = x.shape[0];
  const shape = layout === 'toHeads' ? [B * heads, n, d] : layout === 'fromHeads' ? [B / heads, n, w] : x.shape;
  const key = `pita_rope_${inverse ? 'inverse' : 'forward'}${layout === 'tokens' ? '' : `-${layout}${heads}`}_${n},${w}`;
  return new ElementwiseProgram(shape, ['x', 'cosT', 'sinT'], key, code);
}

/** tfjs's Transpose, with float32 transposes of rank ≥ 3 on TransposeProgram (rank 2 keeps tfjs's tiled kernel). */
function transposeKernel(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const perm = (args.attrs as { perm: number[] }).perm;
    if (x.shape.length < 3 || x.dtype !== 'float32' || process.env.PITA_TRANSPOSE === 'tfjs') return stock(args);
    const out = perm.map((p) => x.shape[p]);
    return (args.backend as WebGPUBackend).runWebGPUProgram(new TransposeProgram(out, perm, x.shape), [x], 'float32');
  };
}

/**
 * The first pass of pita's Sum (SumProgram: output (o, c, i) = Σ_{k ≡ c mod chunks} over x viewed as
 * [outer, r, inner]) over a fused expression's values, computed where they are summed instead of
 * written out first: a long sum into few outputs over one block of adjacent axes (a weight's gradient
 * where it broadcast over B·n² pairs). The same values added in the same order as the expression's
 * kernel and the Sum's first pass, so the same bits (docs/tensor-engine.md §2.39).
 */
class FusedChunkProgram implements WebGPUProgram {
  readonly size = true;
  readonly workgroupSize: [number, number, number] = [64, 1, 1];
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];
  readonly variableNames: string[];
  readonly shaderKey: string;
  readonly outputShape: number[];

  constructor(
    private readonly shape: number[],
    private readonly inputShapes: number[][],
    private readonly block: { outer: number; r: number; inner: number; chunks: number },
    key: string,
    private readonly code: string,
  ) {
    this.variableNames = inputShapes.map((_, i) => `in${i}`);
    this.outputShape = [block.outer * block.chunks * block.inner];
    this.dispatchLayout = webgpu_util.flatDispatchLayout(this.outputShape);
    this.dispatch = webgpu_util.computeDispatch(this.dispatchLayout, this.outputShape, this.workgroupSize);
    const { outer, r, inner, chunks } = block;
    this.shaderKey = `pita_fusedchunks_${key}_${[shape, ...inputShapes].map((t) => t.join(',')).join(';')}_${outer},${r},${inner},${chunks}`;
  }

  getUserCode(): string {
    const { shape } = this;
    const { r, inner, chunks } = this.block;
    const n = shape.length;
    const strides = this.inputShapes.map((t) => broadcastStrides([...new Array<number>(n - t.length).fill(1), ...t]));
    const rowMajor = shape.map((_, a) => product(shape.slice(a + 1)));
    // The coordinates of position `flat` of the shape, on the axes some input reads.
    const coords = shape.map((_, a) => (strides.every((t) => t[a] === 0) ? '0' : `c${a}`));
    const coordLines = coords.filter((c) => c !== '0').map((c) => {
      const a = Number(c.slice(1));
      return `    let ${c} = (flat / ${rowMajor[a]}) % ${shape[a]};`;
    });
    const args = strides.map((t, i) => `in${i}[${linearForm(coords, t)}]`).join(', ');
    return `${HELPERS}
${this.code}
fn main(index : i32) {
  if (index < uniforms.size) {
    let i = index % ${inner};
    let oc = index / ${inner};
    let c = oc % ${chunks};
    let o = oc / ${chunks};
    var acc = 0.0;
    for (var k = c; k < ${r}; k = k + ${chunks}) {
      let flat = (o * ${r} + k) * ${inner} + i;
${coordLines.join('\n')}
      acc = acc + value(${args});
    }
    setOutputAtIndex(index, acc);
  }
}`;
  }
}

/**
 * A fused expression (kernels.ts `fusedKernel`): inputs broadcast to `shape`, summed to `outShape`. A
 * long sum into few outputs (a bias's gradient: B·n² positions into H) would leave the GPU idle with
 * one thread per output, so it runs as the expression over the whole shape and then pita's Sum.
 */
function fusedKernel(args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const all = Object.values(args.inputs) as tf.TensorInfo[];
  const { key, code, addend } = args.attrs as { key: string; code: string; addend?: boolean };
  // The addend, if any, is the last input, of the output's size.
  const inputs = addend === true ? all.slice(0, -1) : all;
  const extra = addend === true ? all[all.length - 1] : undefined;
  const shape = args.attrs?.shape as number[];
  const outShape = args.attrs?.outShape as number[];
  const backend = args.backend as WebGPUBackend;
  const fits = (s: readonly number[]): boolean => s.length <= shape.length && s.every((d, j) => d === 1 || d === shape[j + shape.length - s.length]);
  if (outShape.length !== shape.length || !fits(outShape) || all.some((t) => t.dtype !== 'float32') || inputs.some((t) => !fits(t.shape)) || (extra !== undefined && product(extra.shape) !== product(outShape))) {
    throw new Error(`${FUSED_KERNEL}: inputs [${inputs.map((t) => `${t.dtype}[${t.shape.join(',')}]`).join(', ')}] and output [${outShape.join(',')}] do not fit the shape [${shape.join(',')}]`);
  }
  const summed = product(shape) / Math.max(1, product(outShape));
  const run = (out: number[], plus: tf.TensorInfo | undefined, tree = 0): tf.TensorInfo =>
    backend.runWebGPUProgram(new FusedProgram(out, shape, inputs.map((t) => t.shape), key, code, plus !== undefined, tree), plus ? [...inputs, plus] : inputs, 'float32');
  // Sums a thread would take in one pass of pita's Sum (sumBlocks's rule) run in the fused kernel itself.
  const chunk = sumChunk();
  if (summed <= chunk || product(outShape) >= SUM_ENOUGH_OUTPUTS) return run(outShape, extra);
  const axes = shape.map((_, a) => a).filter((a) => outShape[a] !== shape[a]);
  const blocks = axisBlocks(shape.length, axes);
  if (blocks.length === 1 && process.env.PITA_FUSED_CHUNKS !== '0') {
    const [[a0, a1]] = blocks;
    const block = { outer: product(shape.slice(0, a0)), r: summed, inner: product(shape.slice(a1 + 1)), chunks: Math.ceil(summed / chunk) };
    // A sum pita's Sum takes as one tree: the same tree in the expression's kernel, the same positions in each lane.
    const tree = sumTreeLanes(block.outer, block.r, block.inner, chunk);
    if (tree > 0) return run(outShape, extra, tree);
    // Otherwise its Sum's first pass in the expression's kernel, then the Sum's other passes.
    const program = new FusedChunkProgram(shape, inputs.map((t) => t.shape), block, key, code);
    const partial = backend.runWebGPUProgram(program, inputs, 'float32');
    const view = { dataId: partial.dataId, shape: [block.outer, block.chunks, block.inner], dtype: 'float32' as const };
    const result = sumBlocks(backend, view, [[1, 1]], true, false, extra);
    backend.disposeData(partial.dataId);
    return { ...result, shape: outShape };
  }
  const full = run(shape, undefined);
  const result = sumBlocks(backend, full, blocks, true, false, extra);
  backend.disposeData(full.dataId);
  return result;
}

/**
 * The optimisers' updates (kernels.ts `update`): inputs by name, flat; `b` has `bSize` times a's size
 * (Adam's packed moments [m, v] are twice a parameter's), `f` is a few factors.
 */
const UPDATES: Record<UpdateFn, { inputs: string[]; bSize: number; body: string }> = {
  moments: {
    inputs: ['a', 'b'],
    bSize: 0.5,
    body: `let n = uniforms.size / 2;
  if (index < n) { return uniforms.c0 * a[index] + uniforms.c1 * b[index]; }
  let g = b[index - n]; return uniforms.c2 * a[index] + uniforms.c3 * (g * g);`,
  },
  // The same, of the gradient g·f[0] (a clipped gradient, scaled here rather than by a kernel of its own).
  scaledMoments: {
    inputs: ['a', 'b', 'f'],
    bSize: 0.5,
    body: `let n = uniforms.size / 2;
  if (index < n) { return uniforms.c0 * a[index] + uniforms.c1 * (b[index] * f[0]); }
  let g = b[index - n] * f[0]; return uniforms.c2 * a[index] + uniforms.c3 * (g * g);`,
  },
  adam: { inputs: ['a', 'b', 'f'], bSize: 2, body: 'return a[index] - (b[index] / (sqrt(b[index + uniforms.size]) / f[1] + uniforms.c0)) * f[0];' },
  ema: { inputs: ['a', 'b', 'f'], bSize: 1, body: 'let s = a[index]; return s - (s - b[index]) * f[0];' },
};

function updateKernel(args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const fn = args.attrs?.fn as UpdateFn;
  const constants = args.attrs?.constants as number[];
  const spec = UPDATES[fn];
  if (spec === undefined) throw new Error(`${UPDATE_KERNEL}: unknown update '${String(fn)}'`);
  const inputs = spec.inputs.map((n) => args.inputs[n] as tf.TensorInfo | undefined);
  const [a, b] = inputs;
  const size = (t: tf.TensorInfo) => tf.util.sizeFromShape(t.shape);
  if (inputs.some((t) => t === undefined || t.dtype !== 'float32') || size(b as tf.TensorInfo) !== spec.bSize * size(a as tf.TensorInfo) || constants.length > 4) {
    throw new Error(`${UPDATE_KERNEL} ${fn}: inputs ${spec.inputs.join(', ')} must be float32, b of ${spec.bSize} times a's size, at most 4 constants`);
  }
  const uniforms = [0, 1, 2, 3].map((i) => ({ type: 'float32', data: [constants[i] ?? 0] }));
  const program = new ElementwiseProgram((a as tf.TensorInfo).shape, spec.inputs, `pita_update_${fn}`, `fn value(index : i32) -> f32 { ${spec.body} }`, 'c0 : f32, c1 : f32, c2 : f32, c3 : f32,');
  return (args.backend as WebGPUBackend).runWebGPUProgram(program, inputs as tf.TensorInfo[], 'float32', uniforms);
}

/**
 * Rows of the last axis, each shared by `lanes` threads (webgpu-lanes.ts): `body` runs with `base`, the
 * row's first flat index, `lane`, `valid` (false on the threads past the last row) and `uniforms.cols`;
 * it loops over its positions with ROW_LOOP and combines the lanes' values with laneSum / laneMax.
 */
class RowProgram implements WebGPUProgram {
  readonly uniforms = 'rows : i32, cols : i32, eps : f32,';
  readonly workgroupSize: [number, number, number] = [LANE_GROUP, 1, 1];
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];
  readonly shaderKey: string;

  constructor(
    readonly outputShape: number[],
    rows: number,
    private readonly lanes: number,
    readonly variableNames: string[],
    key: string,
    private readonly body: string,
  ) {
    this.dispatchLayout = webgpu_util.flatDispatchLayout([rows * lanes]);
    this.dispatch = webgpu_util.computeDispatch(this.dispatchLayout, [rows * lanes], this.workgroupSize);
    this.shaderKey = `${key}_${lanes}`;
  }

  getUserCode(): string {
    const L = this.lanes;
    return `${laneReductions(L)}
fn main(index : i32) {
  let row = index / ${L};
  let lane = index % ${L};
  let valid = row < uniforms.rows;
  let base = row * uniforms.cols;
  ${this.body.replaceAll('ROW_LOOP', `for (var j = lane; valid && j < uniforms.cols; j = j + ${L})`)}
}`;
  }
}

/**
 * Runs a row program over `inputs` (float32, x's shape, non-empty last axis); `eps` is a uniform for the
 * bodies that use it. An input `addend` (x's shape; accumulate.ts) is added to every value written.
 */
function runRows(args: Parameters<tf.KernelFunc>[0], name: string, inputNames: string[], key: string, rowBody: string, perRow = false): tf.TensorInfo {
  const withAddend = args.inputs.addend !== undefined;
  const names = withAddend ? [...inputNames, 'addend'] : inputNames;
  const shaderKey = withAddend ? `${key}_add` : key;
  const body = withAddend ? rowBody.replaceAll('setOutputAtIndex(base + j, ', 'setOutputAtIndex(base + j, addend[base + j] + ') : rowBody;
  const inputs = names.map((n) => args.inputs[n] as tf.TensorInfo);
  const x = inputs[0];
  const cols = x.shape[x.shape.length - 1];
  if (inputs.some((t) => t.dtype !== 'float32' || !tf.util.arraysEqual(t.shape, x.shape)) || x.shape.length === 0 || cols === 0) {
    throw new Error(`${name}: needs float32 inputs of one shape with a non-empty last axis`);
  }
  const rows = tf.util.sizeFromShape(x.shape) / cols;
  const uniforms = [
    { type: 'int32', data: [rows] },
    { type: 'int32', data: [cols] },
    { type: 'float32', data: [(args.attrs?.eps as number | undefined) ?? 0] },
  ];
  // `perRow`: one value per row (written by its lane 0 at `row`), shaped as x with a last axis of 1.
  const program = new RowProgram(perRow ? [...x.shape.slice(0, -1), 1] : x.shape, rows, lanesFor(cols), names, shaderKey, body);
  return (args.backend as WebGPUBackend).runWebGPUProgram(program, inputs, 'float32', uniforms);
}

/** softmax along the last axis. */
const SOFTMAX_ROW = `var m = -3.402823e38;
  ROW_LOOP { m = max(m, x[base + j]); }
  m = laneMax(m);
  var s = 0.0;
  ROW_LOOP { s = s + exp(x[base + j] - m); }
  s = laneSum(s);
  ROW_LOOP { setOutputAtIndex(base + j, exp(x[base + j] - m) / s); }`;

/** μ, then r = 1/√(σ² + eps) of the row (two passes), for LayerNorm's normalisation x̂ = (x − μ)·r. */
const ROW_MOMENTS = `let n = f32(uniforms.cols);
  var s = 0.0;
  ROW_LOOP { s = s + x[base + j]; }
  let mu = laneSum(s) / n;
  var q = 0.0;
  ROW_LOOP { let c = x[base + j] - mu; q = q + c * c; }
  let r = 1.0 / sqrt(laneSum(q) / n + uniforms.eps);`;

/** x̂ along the last axis (ops.ts normalise). */
const NORMALISE_ROW = `${ROW_MOMENTS}
  ROW_LOOP { setOutputAtIndex(base + j, (x[base + j] - mu) * r); }`;

/** r alone, one value per row (ops.ts rowScaleT: the VJP's derivative needs it). */
const ROW_SCALE_ROW = `${ROW_MOMENTS}
  if (valid && lane == 0) { setOutputAtIndex(row, r); }`;

/** Its VJP r(u − mean(u) − x̂·mean(u ⊙ x̂)) (ops.ts normaliseVjp). */
const NORMALISE_VJP_ROW = `${ROW_MOMENTS}
  var su = 0.0;
  var sux = 0.0;
  ROW_LOOP { su = su + u[base + j]; sux = sux + u[base + j] * (x[base + j] - mu) * r; }
  let mu_u = laneSum(su) / n;
  let m2 = laneSum(sux) / n;
  ROW_LOOP { setOutputAtIndex(base + j, r * (u[base + j] - mu_u - (x[base + j] - mu) * r * m2)); }`;

/**
 * Partial sums: output (o, c, i) = Σ_{k ≡ c mod chunks, k < r} x[o, k, i], over x viewed as [outer, r, inner]
 * (Σ x² with `squares`; plus `addend`, laid out as the output). With `lanes` > 1 (a sum along the last
 * axis in one pass: inner = chunks = 1) each output's row is shared by that many threads (webgpu-lanes.ts).
 */
class SumProgram implements WebGPUProgram {
  readonly uniforms = 'r : i32, inner : i32, chunks : i32,';
  readonly size = true;
  readonly workgroupSize: [number, number, number];
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];
  readonly shaderKey: string;

  readonly variableNames: string[];

  /**
   * `lanes` > 1: each output's r numbers are shared by that many neighbouring threads (lane ℓ takes
   * positions ℓ, ℓ + lanes, …), which meet in a fixed tree in workgroup memory (webgpu-lanes.ts); up to
   * SUM_TREE_LANES, a whole workgroup for one output, with `tree` (a name of its own in profiles).
   */
  constructor(
    readonly outputShape: number[],
    private readonly squares = false,
    private readonly addend = false,
    private readonly lanes = 1,
    tree = false,
  ) {
    this.variableNames = addend ? ['x', 'addend'] : ['x'];
    this.workgroupSize = [lanes > 1 ? Math.max(LANE_GROUP, lanes) : 64, 1, 1];
    const threads = [product(outputShape) * lanes];
    this.dispatchLayout = webgpu_util.flatDispatchLayout(threads);
    this.dispatch = webgpu_util.computeDispatch(this.dispatchLayout, threads, this.workgroupSize);
    this.shaderKey = `${tree ? 'pita_treesum' : lanes > 1 ? 'pita_rowsum' : 'pita_sum'}${squares ? '_squares' : ''}${addend ? '_add' : ''}${lanes > 1 ? `_${lanes}` : ''}`;
  }

  getUserCode(): string {
    const term = this.squares ? 'v * v' : 'v';
    const L = this.lanes;
    if (L > 1) {
      // Output o of [outer, inner] sums x[o / inner, ·, o % inner]; with inner = 1, a row of r numbers.
      return `${laneReductions(L, this.workgroupSize[0])}
fn main(index : i32) {
  let o = index / ${L};
  let lane = index % ${L};
  let valid = o < uniforms.size;
  let base = (o / uniforms.inner) * uniforms.r * uniforms.inner + o % uniforms.inner;
  var acc = 0.0;
  for (var k = lane; valid && k < uniforms.r; k = k + ${L}) {
    let v = x[base + k * uniforms.inner];
    acc = acc + ${term};
  }
  acc = laneSum(acc);
  if (valid && lane == 0) { setOutputAtIndex(o, acc${this.addend ? ' + addend[o]' : ''}); }
}`;
    }
    return `
fn main(index : i32) {
  if (index < uniforms.size) {
    let i = index % uniforms.inner;
    let oc = index / uniforms.inner;
    let c = oc % uniforms.chunks;
    let base = (oc / uniforms.chunks) * uniforms.r * uniforms.inner + i;
    var acc = 0.0;
    for (var k = c; k < uniforms.r; k = k + uniforms.chunks) {
      let v = x[base + k * uniforms.inner];
      acc = acc + ${term};
    }
    setOutputAtIndex(index, acc${this.addend ? ' + addend[index]' : ''});
  }
}`;
  }
}

/**
 * Σ over s of partial products [S, N, M] (a split product with its operands swapped, webgpu-matmul.ts
 * `swapsOperands`), written as [M, N]: thread t adds position t of each partial in order, so neighbouring
 * threads read neighbouring numbers, and writes its result at its transposed place (plus the addend's
 * value there). The same additions in the same order as SumProgram's one pass over [S, M, N].
 */
class SumTransposedProgram implements WebGPUProgram {
  readonly size = true;
  readonly workgroupSize: [number, number, number] = [64, 1, 1];
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];
  readonly variableNames: string[];
  readonly shaderKey: string;
  readonly outputShape: number[];

  constructor(
    private readonly S: number,
    private readonly M: number,
    private readonly N: number,
    private readonly addend: boolean,
  ) {
    this.outputShape = [M, N];
    this.variableNames = addend ? ['x', 'addend'] : ['x'];
    this.dispatchLayout = webgpu_util.flatDispatchLayout(this.outputShape);
    this.dispatch = webgpu_util.computeDispatch(this.dispatchLayout, this.outputShape, this.workgroupSize);
    this.shaderKey = `pita_sumT${addend ? '_add' : ''}_${S}_${M}_${N}`;
  }

  getUserCode(): string {
    const { S, M, N } = this;
    return `
fn main(index : i32) {
  if (index < uniforms.size) {
    var acc = 0.0;
    for (var s = 0; s < ${S}; s = s + 1) {
      acc = acc + x[s * ${M * N} + index];
    }
    let at = (index % ${M}) * ${N} + index / ${M};
    setOutputAtIndex(at, acc${this.addend ? ' + addend[at]' : ''});
  }
}`;
  }
}

function sumTransposed(backend: WebGPUBackend, partials: tf.TensorInfo, M: number, N: number, addend?: tf.TensorInfo): tf.TensorInfo {
  const S = product(partials.shape) / (M * N);
  const program = new SumTransposedProgram(S, M, N, addend !== undefined);
  return backend.runWebGPUProgram(program, addend ? [partials, addend] : [partials], 'float32');
}

/** Sums over the last axis of more than this many numbers (a 32-byte memory sector) share each row between lanes. */
const LANES_FROM = 8;

/** The longest r a thread sums alone in a chunked pass. */
const SUM_CHUNK = 64;

/**
 * A sum into fewer outputs of at most SUM_TREE_LANES · chunk numbers each runs in one pass, a workgroup of
 * this many lanes per output meeting in a tree (a longer one's later passes too), where chunked passes
 * would take two or three (§2.43). Where the summed numbers are not contiguous (inner > 1), neighbouring
 * lanes read a row apart, so only up to SUM_TREE_STRIDED numbers in all (the later passes' partial sums).
 */
const SUM_TREE_LANES = 256;
const SUM_TREE_STRIDED = 1 << 20;

/** Lanes of a sum's tree (a power of two, about r/4, at least 32), or 0 where chunked passes sum r (`PITA_SUM_TREE=0`: always). */
function sumTreeLanes(outer: number, r: number, inner: number, chunk: number): number {
  if (process.env.PITA_SUM_TREE === '0' || outer * inner >= SUM_ENOUGH_OUTPUTS || r <= chunk || r > SUM_TREE_LANES * chunk) return 0;
  if (inner > 1 && outer * r * inner > SUM_TREE_STRIDED) return 0;
  let lanes = 32;
  while (lanes < SUM_TREE_LANES && lanes * 4 < r) lanes *= 2;
  return lanes;
}

/**
 * The longest r a thread sums alone when a sum takes several passes (each pass divides r by it):
 * SUM_CHUNK, or `PITA_SUM_CHUNK` (an integer ≥ 2), to compare on a GPU a thread's serial chain of loads
 * against the passes' dispatches. Another chunk sums in another order: other last bits.
 */
export function sumChunk(): number {
  const v = process.env.PITA_SUM_CHUNK;
  if (v === undefined || v === '') return SUM_CHUNK;
  const n = Number(v);
  if (!(Number.isInteger(n) && n >= 2)) throw new UserError(`PITA_SUM_CHUNK must be an integer ≥ 2, got '${v}'`);
  return n;
}

/** The summed axes (tfjs's Sum attribute) as blocks of adjacent axes [first, last], in order. */
function axisBlocks(rank: number, axis: number | number[]): [number, number][] {
  const axes = [...new Set((Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + rank : a)))].sort((p, q) => p - q);
  const blocks: [number, number][] = [];
  for (const a of axes) {
    const last = blocks.at(-1);
    if (last && last[1] === a - 1) last[1] = a;
    else blocks.push([a, a]);
  }
  return blocks;
}

const product = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

/**
 * Σ x (or Σ x² with `squares`, squared in the first pass only) over the axes of `blocks`, plus `addend`
 * (of the result's size) if given, added in the last pass; the result shaped as tfjs's Sum would shape it.
 */
function sumBlocks(backend: WebGPUBackend, x: tf.TensorInfo, blocks: [number, number][], keepDims: boolean, squares: boolean, addend?: tf.TensorInfo): tf.TensorInfo {
  // One block at a time, last first; the summed axes stay as 1s until the end.
  const kept = [...x.shape];
  let cur: tf.TensorInfo = x;
  for (const [b, [a0, a1]] of [...blocks].reverse().entries()) {
    const outer = product(kept.slice(0, a0));
    const inner = product(kept.slice(a1 + 1));
    let r = product(kept.slice(a0, a1 + 1));
    const chunk = sumChunk();
    for (;;) {
      const tree = sumTreeLanes(outer, r, inner, chunk);
      const chunks = tree > 0 || outer * inner >= SUM_ENOUGH_OUTPUTS || r <= chunk ? 1 : Math.ceil(r / chunk);
      const uniforms = [r, inner, chunks].map((v) => ({ type: 'int32', data: [v] }));
      // The input seen as [outer, r, inner] (a reshape shares the data), so the program's rank is 3 whatever x's.
      const view = { dataId: cur.dataId, shape: [outer, r, inner], dtype: 'float32' as const };
      const last = b === blocks.length - 1 && chunks === 1 ? addend : undefined;
      const square = squares && cur === x;
      // One pass along the last axis: the lanes of webgpu-lanes.ts (split passes read neighbouring numbers already).
      const lanes = tree > 0 ? tree : inner === 1 && chunks === 1 && r > LANES_FROM ? lanesFor(r) : 1;
      const program = new SumProgram([outer * chunks * inner], square, last !== undefined, lanes, tree > 0);
      const out = backend.runWebGPUProgram(program, last ? [view, last] : [view], 'float32', uniforms);
      if (cur !== x) backend.disposeData(cur.dataId);
      cur = out;
      if (chunks === 1) break;
      r = chunks;
    }
    for (let j = a0; j <= a1; j++) kept[j] = 1;
  }
  const summed = new Set(blocks.flatMap(([a0, a1]) => Array.from({ length: a1 - a0 + 1 }, (_, j) => a0 + j)));
  const shape = keepDims ? kept : kept.filter((_, j) => !summed.has(j));
  return { dataId: cur.dataId, shape, dtype: 'float32' };
}

/** pita's Sum (tfjs's where pita's does not apply), with an optional input `addend` (the result's size; accumulate.ts) added in its last pass. */
function sumKernel(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const addend = args.inputs.addend as tf.TensorInfo | undefined;
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const blocks = axisBlocks(x.shape.length, axis);
    if (blocks.length > 0 && x.dtype === 'float32' && x.shape.every((d) => d > 0)) return sumBlocks(args.backend as WebGPUBackend, x, blocks, keepDims, false, addend);
    if (addend !== undefined) throw new Error('Sum: an addend needs a float32 sum over at least one non-empty axis');
    return stock(args);
  };
}

/** Σ x² over every element, a scalar (kernels.ts `sumOfSquares`). */
function sumSquaresKernel(args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  if (x.dtype !== 'float32' || x.shape.some((d) => d === 0)) throw new Error(`${SUM_SQUARES_KERNEL}: needs a non-empty float32 tensor`);
  const rank = Math.max(1, x.shape.length);
  const flat = x.shape.length === 0 ? { ...x, shape: [1] } : x;
  return { ...sumBlocks(args.backend as WebGPUBackend, flat, [[0, rank - 1]], false, true), shape: [] };
}

/**
 * SplitV: inside a captured step, each block of rows along the first axis that the plan can bind in place
 * is a view of the input's buffer (flat-update.ts `view`); other blocks, and every split elsewhere, are
 * tfjs's copies.
 */
function splitVKernel(stock: tf.KernelFunc, stockSlice: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const views = viewRecorder();
    const axis = tf.util.parseAxisParam(args.attrs?.axis as number, x.shape)[0];
    if (views === null || axis !== 0 || x.dtype !== 'float32') return stock(args);
    const backend = args.backend as WebGPUBackend;
    const data = backend.tensorMap.get(x.dataId);
    if (data.resource == null) backend.uploadToGPU(x.dataId);
    const source = data.resource;
    if (!(source instanceof GPUBuffer)) return stock(args);
    const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, args.attrs?.numOrSizeSplits as number[], 0) as number[];
    const rowBytes = 4 * tf.util.sizeFromShape(x.shape.slice(1));
    let row = 0;
    return sizes.map((rows) => {
      const shape = [rows, ...x.shape.slice(1)];
      const begin = [row, ...x.shape.slice(1).map(() => 0)];
      const view = views.view(source, row * rowBytes, rows * rowBytes);
      row += rows;
      if (view === null) return stockSlice({ inputs: { x }, backend, attrs: { begin, size: shape } }) as tf.TensorInfo;
      const out = backend.makeTensorInfo(shape, 'float32');
      backend.tensorMap.get(out.dataId).resource = view;
      return out;
    });
  };
}

let installed = false;

/** tfjs's kernel `name` on WebGPU, which pita wraps or falls back to (an error if this tfjs lacks it). */
function stockKernel(name: string): tf.KernelFunc {
  const k = tf.getKernel(name, 'webgpu');
  if (k == null) throw new Error(`tensor backend: tfjs-backend-webgpu has no ${name} kernel to replace`);
  return k.kernelFunc;
}

/** Registers `kernelFunc` as `name` on WebGPU, in place of tfjs's where it has one. */
function replaceKernel(name: string, kernelFunc: tf.KernelFunc): void {
  if (tf.getKernel(name, 'webgpu') != null) tf.unregisterKernel(name, 'webgpu');
  tf.registerKernel({ kernelName: name, backendName: 'webgpu', kernelFunc });
}

/** Registers pita's kernels (above), its `Sum`, `BatchMatMul` and `_FusedMatMul` (webgpu-matmul.ts) for the webgpu backend (once). */
export function installWebGpuKernels(): void {
  if (installed) return;
  installed = true;
  // tfjs's kernels first: the replacements below call them.
  const [stockSum, stockMatMul, stockLinear, stockTranspose, stockSplit, stockSlice] = ['Sum', 'BatchMatMul', FUSED_LINEAR_KERNEL, 'Transpose', 'SplitV', 'Slice'].map(stockKernel);
  replaceKernel(UPDATE_KERNEL, updateKernel);
  replaceKernel(SUM_SQUARES_KERNEL, sumSquaresKernel);
  const rowKernels: [string, string[], string][] = [
    [SOFTMAX_KERNEL, ['x'], SOFTMAX_ROW],
    [NORMALISE_KERNEL, ['x'], NORMALISE_ROW],
    [NORMALISE_VJP_KERNEL, ['x', 'u'], NORMALISE_VJP_ROW],
  ];
  for (const [name, names, body] of rowKernels) replaceKernel(name, (args) => runRows(args, name, names, `pita_row_${name}`, body));
  replaceKernel(ROW_SCALE_KERNEL, (args) => runRows(args, ROW_SCALE_KERNEL, ['x'], `pita_row_${ROW_SCALE_KERNEL}`, ROW_SCALE_ROW, true));
  replaceKernel(FUSED_LINEAR_KERNEL, fusedMatMulKernel(stockLinear));
  replaceKernel('Sum', sumKernel(stockSum));
  replaceKernel('BatchMatMul', batchMatMulKernel(stockMatMul, stockLinear, sumBlocks, sumTransposed));
  replaceKernel(HEADS_MATMUL_KERNEL, headsMatMulKernel);
  replaceKernel(FUSED_KERNEL, fusedKernel);
  replaceKernel(ROPE_KERNEL, ({ inputs, backend, attrs }) => {
    const { x, cos, sin } = inputs as { x: tf.TensorInfo; cos: tf.TensorInfo; sin: tf.TensorInfo };
    const { inverse = false, layout = 'tokens', heads = 1 } = (attrs ?? {}) as { inverse?: boolean; layout?: RopeLayout; heads?: number };
    const [n, w] = cos.shape;
    const fits = layout === 'tokens' || (x.shape.length === 3 && w % heads === 0 && (w / heads) % 2 === 0 && (layout === 'toHeads' ? x.shape[1] === n && x.shape[2] === w : x.shape[0] % heads === 0 && x.shape[1] === n && x.shape[2] === w / heads));
    if (x.dtype !== 'float32' || x.shape.at(-1)! % 2 !== 0 || !fits) {
      throw new Error(`${ROPE_KERNEL}: x must be float32 with an even last axis that fits ${layout} with ${heads} heads and tables [${n}, ${w}], got ${x.dtype} [${x.shape.join(', ')}]`);
    }
    return (backend as WebGPUBackend).runWebGPUProgram(ropeProgram(x, inverse, layout, heads, n, w), [x, cos, sin], 'float32');
  });
  replaceKernel('Transpose', transposeKernel(stockTranspose));
  replaceKernel('SplitV', splitVKernel(stockSplit, stockSlice));
  replaceKernel(ACTIVATION_KERNEL, ({ inputs, backend, attrs }) => {
    const x = inputs.x as tf.TensorInfo;
    const fn = attrs?.fn as ActivationFn;
    if (!(fn in BODIES) || x.dtype !== 'float32') throw new Error(`${ACTIVATION_KERNEL}: unknown function '${String(fn)}' or dtype ${x.dtype}`);
    return (backend as WebGPUBackend).runWebGPUProgram(activationProgram(x.shape, fn), [x], 'float32');
  });
}
