/**
 * pita's tiled matrix product on WebGPU, for products whose output is large in both dimensions.
 *
 * Why: tfjs's kernel gives each workgroup of 64 threads a 32×32 block of the output and each thread
 * 4×4 of it, so every value a thread reads from workgroup memory feeds two multiply-adds (and its
 * scalar form, taken when B is transposed, reads A and B one float at a time). On lavapipe the matrix
 * products were 85 % of the paper's DiT training step, and on the H200 the DiT rows ran at 0.27× and
 * 0.35× PyTorch while the per-kernel overhead was no longer the bulk of their time.
 *
 * Here a workgroup of 16 threads by 16 (or 8) computes a block of the output (128×64 by default), each thread
 * a TM×TN block of it in registers: per step along K it reads TM values of A and TN of B from
 * workgroup memory (vec4 reads) for TM·TN multiply-adds. The tiles of A and B (block × BK each) are
 * loaded by all the workgroup's threads, along whichever axis is contiguous in memory, for all four transpose
 * flags. Out-of-range rows, columns and K are read as 0 and not written, so any shape works. A bias
 * (one value per column, or one per output element: the addend of accumulate.ts) is added as the
 * result is written. Each output sums over K in increasing order with `fma`, whatever the variant:
 * the result does not depend on the launch or on the tiling, and a replayed step repeats bit for bit.
 *
 * Variants (docs/tensor-engine.md §2.28, §2.41): the block per workgroup, the K step, which rows and
 * columns a thread owns, whether memory moves 4 floats at a time, and one tile of each operand or two
 * in workgroup memory. `blocked` threads own TM adjacent rows and TN adjacent columns; `strided` ones
 * own groups of 4 rows and 4 columns, 4 × (threads along that side) apart, so that neighbouring threads
 * read neighbouring 16-byte words of a tile (no shared-memory bank conflicts) and write neighbouring
 * words of the output (coalesced stores). All give the same bits, so which one runs is a matter of speed
 * only, and the fastest depends on the GPU: by default (`PITA_GEMM` unset or `auto`) a captured step
 * times every variant on its large products and replays the fastest (webgpu-gemm-tune.ts, §2.31);
 * `PITA_GEMM=<variant>` fixes one.
 *
 * `PITA_MATMUL=tfjs` leaves every product to tfjs's kernels (to compare the two on a device).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { UserError } from '../core/errors.js';

/** Threads per workgroup side (rows and, unless a variant says otherwise, columns). */
const THREADS = 16;
/**
 * Padding of a tile's rows (one per k) in floats: loading A with K contiguous, the 8 threads that
 * share a row of A write 8 tile rows, which without it start in the same memory bank.
 */
const PAD = 4;

/**
 * One shape of the kernel: a thread's rows (tm) and columns (tn), the K step, how a thread's rows and
 * columns lie, and the threads along the columns (default 16; 16 along the rows always).
 */
export interface GemmVariant {
  tm: number;
  tn: number;
  bk: number;
  layout: 'blocked' | 'strided';
  threadsN?: number;
  /**
   * Whether a thread reads its share of the next tiles from memory before it multiplies the current ones
   * (into registers, written to workgroup memory after the next barrier), so that the reads' latency
   * overlaps the multiply-adds instead of stalling the workgroup.
   */
  prefetch?: boolean;
  /**
   * Whether each operand whose contiguous axis is a multiple of 4 long is read from memory 4 floats at a
   * time (vec4 loads: a quarter of the load instructions and bounds checks), and the output written so
   * where its width is a multiple of 4. Other shapes read and write one float at a time, as without it.
   */
  vec4?: boolean;
  /**
   * Two tiles of each operand in workgroup memory (implies `prefetch`): the next tiles are written to the
   * other pair while the current ones are multiplied, so each step along K waits at one barrier, not two.
   */
  double?: boolean;
}

/** The variants `PITA_GEMM` names. */
export const GEMM_VARIANTS: Readonly<Record<string, GemmVariant>> = {
  // 128×64 blocks: the DiT's widths (192, 768) are whole multiples of 64, where 128-wide blocks pad 192 to 256.
  blocked128x64: { tm: 8, tn: 8, bk: 8, layout: 'blocked', threadsN: 8 },
  strided128x64: { tm: 8, tn: 8, bk: 8, layout: 'strided', threadsN: 8 },
  blocked128: { tm: 8, tn: 8, bk: 8, layout: 'blocked' },
  strided128: { tm: 8, tn: 8, bk: 8, layout: 'strided' },
  strided128k16: { tm: 8, tn: 8, bk: 16, layout: 'strided' },
  tile64: { tm: 4, tn: 4, bk: 8, layout: 'blocked' },
  // The next tiles read while the current ones are multiplied.
  blocked128x64p: { tm: 8, tn: 8, bk: 8, layout: 'blocked', threadsN: 8, prefetch: true },
  strided128x64p: { tm: 8, tn: 8, bk: 8, layout: 'strided', threadsN: 8, prefetch: true },
  blocked128p: { tm: 8, tn: 8, bk: 8, layout: 'blocked', prefetch: true },
  // Memory read and written 4 floats at a time where the shapes allow it.
  blocked128x64v: { tm: 8, tn: 8, bk: 8, layout: 'blocked', threadsN: 8, vec4: true },
  strided128x64v: { tm: 8, tn: 8, bk: 8, layout: 'strided', threadsN: 8, vec4: true },
  blocked128v: { tm: 8, tn: 8, bk: 8, layout: 'blocked', vec4: true },
  strided128k16v: { tm: 8, tn: 8, bk: 16, layout: 'strided', vec4: true },
  strided128x64pv: { tm: 8, tn: 8, bk: 8, layout: 'strided', threadsN: 8, prefetch: true, vec4: true },
  // Those, with two tiles of each operand: one barrier per step along K.
  blocked128x64vd: { tm: 8, tn: 8, bk: 8, layout: 'blocked', threadsN: 8, vec4: true, double: true },
  strided128vd: { tm: 8, tn: 8, bk: 8, layout: 'strided', vec4: true, double: true },
  // 64×64 blocks of 4×8 per thread: outputs of 192 rows (the DiT's [192, 192] weight gradients) without padding.
  blocked64x64v: { tm: 4, tn: 8, bk: 8, layout: 'blocked', threadsN: 8, vec4: true },
};
/**
 * The variant of products too small to be worth timing, and of every product before its timing: 128×64
 * blocks pad the DiT's products least (its second-order step computes ~23 % padding in 128×128 blocks,
 * ~7 % here: widths of 192 are three 64-wide blocks, not two 128-wide ones), with §2.22's 8×8 adjacent
 * rows and columns per thread.
 */
export const DEFAULT_VARIANT = 'blocked128x64';
/** `PITA_GEMM`'s value that times the variants (also its meaning when unset). */
export const AUTO = 'auto';

/** A variant's block of the output (rows bm, columns bn) and its threads along the columns. */
function blockOf(v: GemmVariant): { bm: number; bn: number; threadsN: number } {
  const threadsN = v.threadsN ?? THREADS;
  return { bm: v.tm * THREADS, bn: v.tn * threadsN, threadsN };
}

/** The outputs an [M, N] product computes in the default variant's blocks (128 × 64), padding included. */
export function gemmPaddedArea(M: number, N: number): number {
  const { bm, bn } = blockOf(GEMM_VARIANTS[DEFAULT_VARIANT]);
  return Math.ceil(M / bm) * bm * Math.ceil(N / bn) * bn;
}

/**
 * Bytes of workgroup memory a variant's tiles take: a GPU runs it only where its
 * maxComputeWorkgroupStorageSize allows as many (WebGPU guarantees 16 KiB; `strided128vd` takes 16.5).
 */
export function gemmWorkgroupBytes(name: string): number {
  const v = GEMM_VARIANTS[name];
  const { bm, bn } = blockOf(v);
  const tiles = v.double === true ? 2 : 1;
  return 4 * tiles * v.bk * (bm + PAD + bn + PAD);
}

/** The variants among `names` whose tiles fit a device's workgroup memory (`limit` bytes). */
export const variantsThatFit = (names: readonly string[], limit: number): string[] => names.filter((n) => gemmWorkgroupBytes(n) <= limit);

/** A device's workgroup memory in bytes (WebGPU's guaranteed 16 KiB where it does not say). */
export const workgroupLimit = (device: object): number => (device as { limits?: { maxComputeWorkgroupStorageSize?: number } }).limits?.maxComputeWorkgroupStorageSize ?? 16384;

/** What `PITA_GEMM` asks for: a variant's name, or AUTO (also when unset); an unknown name is an error that lists the valid ones. */
export function gemmSetting(): string {
  const name = process.env.PITA_GEMM || AUTO;
  if (name !== AUTO && GEMM_VARIANTS[name] === undefined) {
    throw new UserError(`PITA_GEMM: unknown variant '${name}'; valid: ${[...Object.keys(GEMM_VARIANTS), AUTO].join(', ')}`);
  }
  return name;
}

/**
 * When a captured step times the variants of a product (PITA_GEMM unset or `auto`): products of at
 * least `minFlop` (2·batch·M·N·K; below it a GPU spends microseconds on one, and timing it would cost
 * more than it could save), each variant run `dispatches` times in a step replayed `runs` times, the
 * fastest dispatch counting. `candidates` limits the variants timed (tests; null: all).
 */
export const gemmTuning: { minFlop: number; dispatches: number; runs: number; candidates: string[] | null } = {
  minFlop: 5e8,
  dispatches: 4,
  runs: 2,
  candidates: null,
};

/** A product as the tiled kernel sees it, with the shapes of its inputs (A, B and the bias): what a variant is timed and chosen for. */
export interface GemmCase {
  /** The shape, flags, bias kind and input ranks: the same key, the same choice and the same pipeline layout. */
  key: string;
  shape: GemmShape;
  inputs: number[][];
}

/** A timed product: the fastest variant, every candidate's GPU time, and what replaying the winner needs. */
export interface GemmTuned {
  shape: GemmShape;
  variant: string;
  /** Milliseconds per dispatch, by variant (the fastest of its dispatches). */
  ms: Record<string, number>;
  /**
   * 'gpu': timestamp queries timed it; 'none': the device has none; 'failed': the device refused the timing
   * step (`reason`: its error, e.g. out of memory). The default runs where nothing was timed.
   */
  timer: 'gpu' | 'none' | 'failed';
  reason?: string;
  /** What replaying the winner needs; absent where nothing was timed (the recording keeps the default). */
  replay?: { pipeline: GPUComputePipeline; dispatch: [number, number, number]; workgroupSize: [number, number, number] };
}

/** The products timed so far, by key, per device (a new backend starts afresh). */
const tunedByDevice = new WeakMap<object, Map<string, GemmTuned>>();

/** The timings of `device` (made on first use). */
export function tunedGemms(device: object): Map<string, GemmTuned> {
  let m = tunedByDevice.get(device);
  if (m === undefined) {
    m = new Map();
    tunedByDevice.set(device, m);
  }
  return m;
}

/** Whether a captured step should time this product's variants: PITA_GEMM is `auto`, the product is large, and it is not timed yet. */
export function wantsTuning(device: object, c: GemmCase): boolean {
  const { batch, M, N, K } = c.shape;
  return gemmSetting() === AUTO && 2 * batch * M * N * K >= gemmTuning.minFlop && !tunedGemms(device).has(c.key);
}

/** The variant a product runs on now: PITA_GEMM's (an error where the device's workgroup memory is too small), else its timed winner, else the default. */
export function variantFor(device: object, key: string): string {
  const setting = gemmSetting();
  if (setting !== AUTO) {
    const [need, limit] = [gemmWorkgroupBytes(setting), workgroupLimit(device)];
    if (need > limit) throw new UserError(`PITA_GEMM=${setting} needs ${need} bytes of workgroup memory and this GPU allows ${limit}; valid here: ${[...variantsThatFit(Object.keys(GEMM_VARIANTS), limit), AUTO].join(', ')}`);
    return setting;
  }
  return tunedGemms(device).get(key)?.variant ?? DEFAULT_VARIANT;
}

/**
 * Which products take this kernel: outputs of at least 128 rows and 96 columns per batch (smaller ones
 * waste most of a 128×128 block), in at least `minWorkgroups` blocks of 128×128 in all. A GPU runs one
 * or two of these workgroups per multiprocessor (132 on the H100 and H200), so with fewer blocks tfjs's
 * kernel, with 16 times as many workgroups, keeps more of the GPU busy (the MLP's [512, 128] products: 4
 * blocks). The limits are the same for every variant, so that variants differ in the kernel only. Tests
 * lower `minWorkgroups` to run small products here.
 */
export const gemmLimits = { minRows: 128, minCols: 96, minWorkgroups: 128 };
/** The block the limits count in. */
const LIMIT_BLOCK = 128;

export interface GemmShape {
  batch: number;
  M: number;
  N: number;
  K: number;
  transposeA: boolean;
  transposeB: boolean;
  /** 'column': a bias of N values; 'full': one of the output's size. */
  bias: 'none' | 'column' | 'full';
}

/** Whether `PITA_MATMUL=tfjs` turned this kernel off. */
export const gemmEnabled = (): boolean => process.env.PITA_MATMUL !== 'tfjs';

/** Blocks of 128×128 in `batch` outputs of M × N (what the limits count). */
export const gemmBlocks = (M: number, N: number, batch = 1): number => Math.ceil(M / LIMIT_BLOCK) * Math.ceil(N / LIMIT_BLOCK) * batch;

/** Whether `batch` outputs of M × N take the tiled kernel (`batch` 0: whether they would in a batch large enough). */
export function takesGemm(M: number, N: number, batch = 0): boolean {
  return gemmEnabled() && M >= gemmLimits.minRows && N >= gemmLimits.minCols && (batch === 0 || gemmBlocks(M, N, batch) >= gemmLimits.minWorkgroups);
}

/**
 * Where a thread's i-th row (or column) of its block lies in the workgroup's block, as WGSL: `t` is the
 * thread's index along that side, `per` its rows (tm or tn), `threads` the threads along that side.
 */
function owned(v: GemmVariant, t: string, per: number, threads: number, i: number): string {
  if (v.layout === 'blocked') return `${t} * ${per} + ${i}`;
  // Groups of 4, the g-th group of every thread 4·threads apart.
  return `${Math.floor(i / 4) * 4 * threads} + ${t} * 4 + ${i % 4}`;
}

/** What a recorded dispatch of the tiled kernel carries (replay.ts finds the products to time by it). */
export interface GemmDispatch {
  case: GemmCase;
  variant: string;
  /** Whether its variant was chosen for it (not named by the caller: the tuner's own products are not timed again). */
  chosen: boolean;
}

class GemmProgram implements WebGPUProgram {
  readonly variableNames: string[];
  readonly outputShape: number[];
  readonly shaderKey: string;
  readonly dispatchLayout = { x: [2], y: [1], z: [0] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number];
  /** The extents are uniforms, so one shader serves every shape with the same flags (tfjs compiles each key once). */
  readonly uniforms = 'M : i32, N : i32, K : i32,';
  private readonly v: GemmVariant;
  /** Which of A, B and the output (with the bias) move 4 floats at a time (vec4 variants, aligned shapes). */
  private readonly vec: { a: boolean; b: boolean; out: boolean };
  /** Floats per element of A, B (and the bias): 4 where they are read as vec4. */
  readonly variableComponents: number[];
  /** Floats per element of the output. */
  readonly outputComponent: number;

  /** Set by tfjs when it runs the program: the compiled pipeline (the tuner replays the winner's). */
  pipeline?: GPUComputePipeline | Promise<GPUComputePipeline>;

  constructor(
    private readonly s: GemmShape,
    readonly gemm: GemmDispatch,
  ) {
    const name = gemm.variant;
    const v = GEMM_VARIANTS[name];
    this.v = v;
    this.variableNames = s.bias === 'none' ? ['A', 'B'] : ['A', 'B', 'bias'];
    this.outputShape = [s.batch, s.M, s.N];
    const { bm, bn, threadsN } = blockOf(v);
    this.workgroupSize = [threadsN, THREADS, 1];
    this.dispatch = [Math.ceil(s.N / bn), Math.ceil(s.M / bm), s.batch];
    // A thread loads (block × bk) / threads floats of each operand per step: vec4 loads need a multiple of 4,
    // and rows of a multiple of 4 floats along the operand's contiguous axis, so that every vec4 is aligned.
    const threads = threadsN * THREADS;
    const loads = (block: number, contiguous: number): boolean => v.vec4 === true && ((block * v.bk) / threads) % 4 === 0 && contiguous % 4 === 0;
    this.vec = {
      a: loads(bm, s.transposeA ? s.M : s.K),
      b: loads(bn, s.transposeB ? s.K : s.N),
      out: v.vec4 === true && v.tn % 4 === 0 && s.N % 4 === 0,
    };
    const width = (on: boolean): number => (on ? 4 : 1);
    this.variableComponents = [width(this.vec.a), width(this.vec.b), ...(s.bias === 'none' ? [] : [width(this.vec.out)])];
    this.outputComponent = width(this.vec.out);
    const vecKey = v.vec4 === true ? `_v${Number(this.vec.a)}${Number(this.vec.b)}${Number(this.vec.out)}` : '';
    this.shaderKey = `pita_gemm_${Number(s.transposeA)}${Number(s.transposeB)}_${s.bias}${name === DEFAULT_VARIANT ? '' : `_${name}`}${vecKey}`;
  }

  getUserCode(): string {
    const { transposeA, transposeB, bias } = this.s;
    const { tm: TM, tn: TN, bk: BK, double = false } = this.v;
    const prefetch = double || this.v.prefetch === true;
    const { bm: BM, bn: BN, threadsN: TX } = blockOf(this.v);
    const [M, N, K] = ['uniforms.M', 'uniforms.N', 'uniforms.K'];
    const threads = TX * THREADS;
    // One tile (blockOuter × BK) of an operand, `per` elements per thread, held in registers (`fetch`: from
    // memory, at K offset `kStart`) and then written to workgroup memory (`store`). Thread-consecutive
    // elements e follow the operand's contiguous axis: (o, k) = (e / BK, e % BK) when K is contiguous in
    // memory (A, or Bᵀ stored [N, K]), (e % blockOuter, e / blockOuter) when the outer axis is. The tile is
    // stored k-major: [k][o].
    const operand = (name: string, tile: string, base: string, kContiguous: boolean, outer: string, outerStart: string, blockOuter: number, vec: boolean) => {
      // With `vec`, each register holds 4 floats adjacent along the contiguous axis (e counts vec4s).
      const w = vec ? 4 : 1;
      const per = (blockOuter * BK) / threads / w;
      const at = (r: number): [string, string] => {
        const e = `(li + ${r * threads})`;
        if (!vec) return kContiguous ? [`${e} / ${BK}`, `${e} % ${BK}`] : [`${e} % ${blockOuter}`, `${e} / ${blockOuter}`];
        return kContiguous ? [`${e} / ${BK / 4}`, `(${e} % ${BK / 4}) * 4`] : [`(${e} % ${blockOuter / 4}) * 4`, `${e} / ${blockOuter / 4}`];
      };
      const regs = Array.from({ length: per }, (_, r) => `${name.toLowerCase()}Next${r}`);
      const zero = vec ? 'vec4<f32>(0.0)' : '0.0';
      const declare = regs.map((v) => `var ${v} = ${zero};`).join('\n  ');
      // Aligned shapes (the rows' length a multiple of 4) put a vec4 wholly inside or wholly outside the operand.
      const fetch = (kStart: string): string =>
        regs
          .map((v, r) => {
            const [o, k] = at(r);
            const flat = kContiguous ? `go * ${K} + gk` : `gk * ${outer} + go`;
            return `{
      let go = ${outerStart} + ${o};
      let gk = ${kStart} + ${k};
      ${v} = ${zero};
      if (go < ${outer} && gk < ${K}) { ${v} = ${name}[${vec ? `(${base} + ${flat}) / 4` : `${base} + ${flat}`}]; }
    }`;
          })
          .join('\n    ');
      // The tile is k-major: 4 floats adjacent along K go to 4 tile rows, 4 adjacent along the outer axis to one vec4.
      // `buf`: which of two tiles (double), as WGSL; null with one tile.
      const store = (buf: string | null): string =>
        regs
          .map((v, r) => {
            const [o, k] = at(r);
            const first = buf === null ? '' : ` + (${buf}) * ${(blockOuter + PAD) * BK}`;
            if (vec && !kContiguous) return `${tile}[((${k}) * ${blockOuter + PAD} + ${o}${first}) / 4] = ${v};`;
            const parts = vec ? [0, 1, 2, 3].map((q) => [`${k} + ${q}`, `${v}[${q}]`]) : [[k, v]];
            return parts
              .map(
                ([kq, value]) => `{
      let at = (${kq}) * ${blockOuter + PAD} + ${o}${first};
      ${tile}[at / 4][at % 4] = ${value};
    }`,
              )
              .join('\n    ');
          })
          .join('\n    ');
      return { declare, fetch, store };
    };
    const opA = operand('A', 'tileA', 'aBase', !transposeA, M, 'm0', BM, this.vec.a);
    const opB = operand('B', 'tileB', 'bBase', transposeB, N, 'n0', BN, this.vec.b);
    const acc: string[] = [];
    const fmas: string[] = [];
    const writes: string[] = [];
    // Written one float at a time, or 4 adjacent columns at a time (a thread owns columns in groups of 4).
    const wOut = this.vec.out ? 4 : 1;
    for (let i = 0; i < TM; i++) {
      for (let j = 0; j < TN; j++) {
        acc.push(`var c${i}_${j} = 0.0;`);
        fmas.push(`c${i}_${j} = fma(a${i}, b${j}, c${i}_${j});`);
      }
      for (let j = 0; j < TN; j += wOut) {
        const value = wOut === 1 ? `c${i}_${j}` : `vec4<f32>(${[0, 1, 2, 3].map((q) => `c${i}_${j + q}`).join(', ')})`;
        const at = wOut === 1 ? ['col', 'index'] : ['col / 4', 'index / 4'];
        const plus = bias === 'none' ? '' : bias === 'column' ? ` + bias[${at[0]}]` : ` + bias[${at[1]}]`;
        writes.push(`{
    let row = m0 + ${owned(this.v, 'ty', TM, THREADS, i)};
    let col = n0 + ${owned(this.v, 'tx', TN, TX, j)};
    if (row < ${M} && col < ${N}) {
      let index = outBase + row * ${N} + col;
      result[${at[1]}] = ${value}${plus};
    }
  }`);
      }
    }
    // A thread's values of A (and of B) at one k: groups of 4 adjacent ones, one vec4 read each.
    const xyzw = 'xyzw';
    const reads = (name: string, tile: string, block: number, t: string, count: number, threads: number): string =>
      Array.from(
        { length: count / 4 },
        (_, q) => `let ${name}v${q} = ${tile}[(${double ? `buf * ${(block + PAD) * BK} + ` : ''}kk * ${block + PAD} + ${owned(this.v, t, count, threads, 4 * q)}) / 4];`,
      )
        .concat(Array.from({ length: count }, (_, i) => `let ${name}${i} = ${name}v${Math.floor(i / 4)}.${xyzw[i % 4]};`))
        .join('\n      ');
    const aLoads = reads('a', 'tileA', BM, 'ty', TM, THREADS);
    const bLoads = reads('b', 'tileB', BN, 'tx', TN, TX);
    const tiles = double ? 2 : 1;
    const compute = `for (var kk = 0; kk < ${BK}; kk = kk + 1) {
      ${aLoads}
      ${bLoads}
      ${fmas.join('\n      ')}
    }`;
    const next = `${opA.fetch(`k0 + ${BK}`)}\n    ${opB.fetch(`k0 + ${BK}`)}`;
    // One tile: fetch (or take the prefetched values), store, barrier, multiply, barrier. Two: the tiles of
    // step k0 are in `buf`; the next ones are fetched, multiplied past, and stored to the other, then one barrier.
    const loop = double
      ? `${opA.fetch('0')}
  ${opB.fetch('0')}
  ${opA.store('0')}
  ${opB.store('0')}
  workgroupBarrier();
  for (var k0 = 0; k0 < ${K}; k0 = k0 + ${BK}) {
    let buf = (k0 / ${BK}) % 2;
    let more = k0 + ${BK} < ${K};
    if (more) {
    ${next}
    }
    ${compute}
    if (more) {
    ${opA.store('1 - buf')}
    ${opB.store('1 - buf')}
    }
    workgroupBarrier();
  }`
      : `${prefetch ? `${opA.fetch('0')}\n  ${opB.fetch('0')}` : ''}
  for (var k0 = 0; k0 < ${K}; k0 = k0 + ${BK}) {
    ${prefetch ? '' : `${opA.fetch('k0')}\n    ${opB.fetch('k0')}`}
    ${opA.store(null)}
    ${opB.store(null)}
    workgroupBarrier();
    ${prefetch ? `if (k0 + ${BK} < ${K}) {\n    ${next}\n    }` : ''}
    ${compute}
    workgroupBarrier();
  }`;
    return `
var<workgroup> tileA : array<vec4<f32>, ${(tiles * (BM + PAD) * BK) / 4}>;
var<workgroup> tileB : array<vec4<f32>, ${(tiles * (BN + PAD) * BK) / 4}>;

fn main() {
  let tx = i32(localId.x);
  let ty = i32(localId.y);
  let li = ty * ${TX} + tx;
  let batch = i32(workgroupId.z);
  let m0 = i32(workgroupId.y) * ${BM};
  let n0 = i32(workgroupId.x) * ${BN};
  let aBase = batch * ${M} * ${K};
  let bBase = batch * ${K} * ${N};
  ${acc.join('\n  ')}
  ${opA.declare}
  ${opB.declare}
  ${loop}
  let outBase = batch * ${M} * ${N};
  ${writes.join('\n  ')}
}`;
  }
}

/**
 * C[b] = op(A[b])·op(B[b]) (+ bias) as [batch, M, N] on pita's tiled kernel (the caller checked `takesGemm`),
 * on `variant`, else on the variant chosen for it (`variantFor`). Returns the program too (tfjs sets its
 * pipeline and dispatch as it runs it).
 */
export function gemmProgram(backend: WebGPUBackend, a: tf.TensorInfo, b: tf.TensorInfo, s: GemmShape, bias?: tf.TensorInfo, variant?: string): { out: tf.TensorInfo; program: GemmProgram } {
  const inputs = bias === undefined ? [a, b] : [a, b, bias];
  const shapes = inputs.map((t) => [...t.shape]);
  const key = `${s.batch}x${s.M}x${s.N}x${s.K}_${Number(s.transposeA)}${Number(s.transposeB)}_${s.bias}_${shapes.map((x) => x.length).join('')}`;
  const gemmCase: GemmCase = { key, shape: s, inputs: shapes };
  const program = new GemmProgram(s, { case: gemmCase, variant: variant ?? variantFor(backend.device, key), chosen: variant === undefined });
  const extents = [s.M, s.N, s.K].map((v) => ({ type: 'int32', data: [v] }));
  return { out: backend.runWebGPUProgram(program, inputs, 'float32', extents), program };
}

/** C[b] = op(A[b])·op(B[b]) (+ bias) on pita's tiled kernel (`gemmProgram`'s result). */
export function gemm(backend: WebGPUBackend, a: tf.TensorInfo, b: tf.TensorInfo, s: GemmShape, bias?: tf.TensorInfo): tf.TensorInfo {
  return gemmProgram(backend, a, b, s, bias).out;
}
