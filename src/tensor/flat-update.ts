/**
 * Multi-tensor optimiser updates inside a captured step on WebGPU (docs/tensor-engine.md §2.26).
 *
 * Why: the optimiser runs the same few operations on every parameter, so per parameter it cost
 * kernels of its own: gradient clipping's ‖g‖², Adam's moments and step, the EMA's shadow (§2.15),
 * 4 × 74 = 296 of the 1438 dispatches of PITA's EGNN LJ-13 training step, each too small to fill a
 * GPU, where a GPU pays a fixed cost per dispatch. WebGPU binds at most 8 storage buffers to a
 * kernel, so one kernel cannot bind 37 parameters' tensors; it can bind one buffer that holds them
 * all. A captured step knows every buffer only after the recording, when its memory plan places
 * them (replay.ts), so the plan can lay out the tensors a flat kernel names in one *arena* buffer:
 * - the gradients (intermediates of the step) at aligned offsets of a read arena;
 * - each kind of state (parameters, Adam's packed moments, EMA shadows) in an in-place arena: the
 *   tensor from before the step and its replacement share one region, which the flat kernel
 *   updates in place, so the state needs no copy before each replay.
 * Every other kernel binds a member by its range in the arena. The owner's tensors (the state the
 * step returns) keep buffers of their own, written from the arena when anything else may read them
 * (replay.ts `catchUp`).
 *
 * The kernels compute exactly the per-parameter kernels' float32 expressions (webgpu-kernels.ts
 * `UPDATES`); only ‖g‖² sums in another order. Outside a capture, on the CPU, with
 * `PITA_FLAT=0`, or where a tensor cannot join an arena, optim.ts runs the per-parameter updates.
 *
 * The recorder also makes *views* (§2.27): a placeholder for a byte range of another buffer, which the
 * plan binds in place; pita's SplitV gives the blocks of rows of a split weight as views instead of copies.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { COPY_DST, COPY_SRC, STORAGE, UNIFORM } from './gpu-usage.js';

/** Bytes between members of an arena: WebGPU's default minStorageBufferOffsetAlignment. */
const ALIGN = 256;
/** Elements per workgroup of the elementwise flat kernels (each workgroup stays within one tensor). */
const CHUNK = 64;
/** Threads per tensor of the ‖g‖² kernel. */
const SUM_THREADS = 256;
const MAX_WORKGROUPS = 65535;
const NONE = 0xffffffff;

/** Tensors laid out in one real buffer by the memory plan (replay.ts). */
export interface Arena {
  /** Stands for the whole arena in the flat kernels' recorded bindings. */
  readonly virtual: GPUBuffer;
  readonly size: number;
  readonly usage: number;
  /** Member buffer → byte offset (an in-place arena holds both tensors of each region). */
  readonly members: Map<GPUBuffer, number>;
}

/** A state tensor updated in place: its buffer from before the step and its replacement's share a region; `writer` is the flat kernel. */
export interface InPlacePair {
  before: GPUBuffer;
  after: GPUBuffer;
  writer: FlatCommand;
}

/** A flat kernel's dispatch, as replay.ts records every dispatch. */
export interface FlatCommand {
  kind: 'dispatch';
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  entries: GPUBindGroupEntry[];
  x: number;
  y: number;
  z: number;
  program: { shaderKey: string; workgroupSize: [number, number, number] };
}

/** What the capture gives the recorder (replay.ts). */
export interface FlatHost {
  readonly device: GPUDevice;
  bufferOf(t: tf.Tensor): GPUBuffer;
  /** Whether a buffer is a placeholder of a tensor made in the step. */
  isPlaceholder(b: GPUBuffer): boolean;
  /** Whether a real buffer belongs to the step (its inputs, uniforms, uploaded constants). */
  isStepOwned(b: GPUBuffer): boolean;
  /** A placeholder for a new tensor of the step. */
  acquire(size: number, usage: number): GPUBuffer;
  /** A placeholder no tensor holds (an arena's stand-in). */
  virtual(size: number, usage: number): GPUBuffer;
  /** A real buffer the recording owns. */
  own(size: number, usage: number, data: ArrayBuffer): GPUBuffer;
  /** A tfjs tensor of `shape` on `buffer`. */
  newTensor(shape: number[], buffer: GPUBuffer): tf.Tensor;
  record(c: FlatCommand): void;
  /** Whether a command recorded so far writes one of `buffers` and binds another. */
  writtenTogether(buffers: ReadonlySet<GPUBuffer>): boolean;
}

/** Where a member lies. */
interface Region {
  arena: Arena;
  offset: number;
}

/** A role's tensors placed in an arena (committed only when every role of the kernel is placed). */
interface Placed {
  arena: Arena;
  /** Element offsets of the tensors. */
  offsets: number[];
  commit(): void;
}

let active: FlatRecorder | null = null;

/** The recorder of the capture in progress for flat kernels (null outside one, or with PITA_FLAT=0). */
export function flatRecorder(): FlatRecorder | null {
  return process.env.PITA_FLAT === '0' ? null : active;
}

/** The recorder of the capture in progress for views (null outside one, or with PITA_VIEWS=0). */
export function viewRecorder(): FlatRecorder | null {
  return process.env.PITA_VIEWS === '0' ? null : active;
}

/** Runs `fn` with `r` as the active recorder (replay.ts, around the step function). */
export function withFlatRecorder<R>(r: FlatRecorder, fn: () => R): R {
  const outer = active;
  active = r;
  try {
    return fn();
  } finally {
    active = outer;
  }
}

export class FlatRecorder {
  readonly arenas: Arena[] = [];
  readonly pairs: InPlacePair[] = [];
  private readonly regions = new Map<GPUBuffer, Region>();
  private readonly virtuals = new Map<GPUBuffer, Arena>();
  private readonly views = new Map<GPUBuffer, { source: GPUBuffer; offset: number }>();

  constructor(private readonly host: FlatHost) {}

  /** The arena region of a buffer, if it is a member. */
  regionOf(b: GPUBuffer): Region | undefined {
    return this.regions.get(b);
  }

  /** The buffer and byte offset a view placeholder stands for (`view`). */
  viewOf(b: GPUBuffer): { source: GPUBuffer; offset: number } | undefined {
    return this.views.get(b);
  }

  /**
   * A placeholder for bytes [offset, offset + size) of `source`, which the plan binds in place (no copy):
   * the blocks of rows that split a weight (webgpu-kernels.ts `SplitV`). Only of buffers that outlive the
   * step's commands unchanged or live in an arena (state from before the step, the step's inputs), at
   * offsets WebGPU can bind; else null.
   */
  view(source: GPUBuffer, offset: number, size: number): GPUBuffer | null {
    if (this.host.isPlaceholder(source) || offset % ALIGN !== 0 || size % 4 !== 0 || size === 0 || offset + size > source.size) return null;
    const b = this.host.acquire(size, source.usage);
    this.views.set(b, { source, offset });
    return b;
  }

  /** The arena a virtual buffer stands for. */
  arenaOf(virtual: GPUBuffer): Arena | undefined {
    return this.virtuals.get(virtual);
  }

  /**
   * Adam (optim.ts) of parameters `p` with packed moments `mv` [2, …shape] and gradients `g` (times
   * `coef` [1] where given), factors `f` = [lr/(1 − β₁ᵗ), √(1 − β₂ᵗ)]: the new parameters and moments,
   * or null where the tensors cannot be laid out in arenas.
   */
  adam(p: tf.Tensor[], mv: tf.Tensor[], g: tf.Tensor[], f: tf.Tensor, coef: tf.Tensor | null, c: { beta1: number; beta2: number; eps: number }): { p: tf.Tensor[]; mv: tf.Tensor[] } | null {
    const n = p.map((t) => t.size);
    if (mv.some((t, i) => t.size !== 2 * n[i]) || g.some((t, i) => t.size !== n[i])) return null;
    const roles = this.placeAll([
      [p, true],
      [mv, true],
      [g, false],
    ]);
    if (roles === null) return null;
    const constants = [c.beta1, 1 - c.beta1, c.beta2, 1 - c.beta2, c.eps];
    const extra = coef === null ? [f] : [f, coef];
    const [pNew, mvNew] = this.dispatch(coef === null ? 'adam' : 'adamScaled', n, roles, [p, mv], extra, constants);
    return { p: pNew, mv: mvNew };
  }

  /** The EMA update s − (s − p)·f[0] of shadows `s` towards parameters `p`: the new shadows, or null. */
  ema(s: tf.Tensor[], p: tf.Tensor[], f: tf.Tensor): tf.Tensor[] | null {
    const n = s.map((t) => t.size);
    if (p.some((t, i) => t.size !== n[i])) return null;
    const roles = this.placeAll([
      [s, true],
      [p, false],
    ]);
    if (roles === null) return null;
    return this.dispatch('ema', n, roles, [s], [f], [])[0];
  }

  /** Σ x² of each tensor as one vector [k], or null. */
  sumSquares(g: tf.Tensor[]): tf.Tensor | null {
    const roles = this.placeAll([[g, false]]);
    if (roles === null) return null;
    const n = g.map((t) => t.size);
    const out = this.host.acquire(Math.max(4, 4 * g.length), this.host.bufferOf(g[0]).usage);
    this.dispatch('sumSquares', n, roles, [], [], [], out);
    return this.host.newTensor([g.length], out);
  }

  /** Places each role's tensors (in place or read), all or none. */
  private placeAll(roles: [tf.Tensor[], boolean][]): Placed[] | null {
    if (roles[0][0].length === 0 || roles.some(([ts]) => ts.length !== roles[0][0].length || ts.some((t) => t.dtype !== 'float32'))) return null;
    const all = roles.flatMap(([ts]) => ts.map((t) => this.host.bufferOf(t)));
    if (new Set(all).size !== all.length) return null;
    const placed: Placed[] = [];
    for (const [ts, inPlace] of roles) {
      const r = this.place(ts.map((t) => this.host.bufferOf(t)), inPlace);
      if (r === null) return null;
      placed.push(r);
    }
    if (new Set(placed.map((r) => r.arena)).size !== placed.length) return null;
    for (const r of placed) r.commit();
    return placed;
  }

  /**
   * The tensors' buffers in one arena: a new one when none is a member yet (state from before the step
   * for an in-place role, tensors made in the step for a read role), an existing one when all are
   * members of it (a read role only: an in-place region is updated once per step).
   */
  private place(buffers: GPUBuffer[], inPlace: boolean): Placed | null {
    if (new Set(buffers).size !== buffers.length) return null;
    const regions = buffers.map((b) => this.regions.get(b));
    if (regions.every((r) => r !== undefined)) {
      const arena = regions[0]!.arena;
      if (inPlace || regions.some((r) => r!.arena !== arena)) return null;
      return { arena, offsets: regions.map((r) => r!.offset / 4), commit: () => {} };
    }
    if (regions.some((r) => r !== undefined)) return null;
    const eligible = (b: GPUBuffer): boolean => (inPlace ? !this.host.isPlaceholder(b) && !this.host.isStepOwned(b) : this.host.isPlaceholder(b));
    // Tensors made in the step join a read arena only if no command wrote one of them while binding another
    // (they would then share a buffer that WebGPU cannot bind writable and readable in one dispatch).
    if (!buffers.every(eligible) || (!inPlace && this.host.writtenTogether(new Set(buffers)))) return null;
    let size = 0;
    const offsets = buffers.map((b) => {
      const o = size;
      size += Math.ceil(b.size / ALIGN) * ALIGN;
      return o;
    });
    // A kernel binds an arena whole: one larger than a binding may be stays with the per-parameter kernels.
    if (size > this.host.device.limits.maxStorageBufferBindingSize) return null;
    const usage = STORAGE | COPY_SRC | COPY_DST;
    const arena: Arena = { virtual: this.host.virtual(size, usage), size, usage, members: new Map() };
    return {
      arena,
      offsets: offsets.map((o) => o / 4),
      commit: () => {
        this.arenas.push(arena);
        this.virtuals.set(arena.virtual, arena);
        buffers.forEach((b, i) => this.addMember(b, arena, offsets[i]));
      },
    };
  }

  private addMember(b: GPUBuffer, arena: Arena, offset: number): void {
    arena.members.set(b, offset);
    this.regions.set(b, { arena, offset });
  }

  /**
   * Records one flat kernel over tensors of sizes `n`, with its roles' arenas bound first (in-place
   * ones read-write), then `extra` small tensors, the table and the uniforms; `out` (sumSquares) is
   * bound before all. Returns the new tensors of each in-place role (`inPlace`, in role order).
   */
  private dispatch(kind: FlatKind, n: number[], roles: Placed[], inPlace: tf.Tensor[][], extra: tf.Tensor[], constants: number[], out?: GPUBuffer): tf.Tensor[][] {
    const host = this.host;
    const chunkCounts = n.map((x) => Math.max(1, Math.ceil(x / CHUNK)));
    const chunks = chunkCounts.reduce((a, b) => a + b, 0);
    const stride = 2 + roles.length;
    // The table: each chunk's tensor, then per tensor its size, first chunk and element offset in each role's arena.
    const table = new Uint32Array(chunks + stride * n.length);
    let first = 0;
    n.forEach((size, i) => {
      table.fill(i, first, first + chunkCounts[i]);
      const rec = chunks + stride * i;
      table[rec] = size;
      table[rec + 1] = first;
      roles.forEach((r, j) => (table[rec + 2 + j] = r.offsets[i]));
      first += chunkCounts[i];
    });
    const groups = kind === 'sumSquares' ? n.length : chunks;
    const nx = Math.min(groups, MAX_WORKGROUPS);
    const uniforms = new ArrayBuffer(32);
    new Float32Array(uniforms, 0, 5).set(constants);
    new Uint32Array(uniforms, 20, 3).set([chunks, nx, n.length]);
    const pipeline = flatPipeline(host.device, kind, stride);
    const whole = (b: GPUBuffer): GPUBindGroupEntry['resource'] => ({ buffer: b, offset: 0, size: b.size });
    const buffers = [
      ...(out === undefined ? [] : [out]),
      ...roles.map((r) => r.arena.virtual),
      ...extra.map((t) => host.bufferOf(t)),
      host.own(table.byteLength, STORAGE | COPY_DST, table.buffer),
      host.own(uniforms.byteLength, UNIFORM | COPY_DST, uniforms),
    ];
    const command: FlatCommand = {
      kind: 'dispatch',
      pipeline,
      layout: pipeline.getBindGroupLayout(0),
      entries: buffers.map((b, binding) => ({ binding, resource: whole(b) })),
      x: nx,
      y: Math.ceil(groups / nx),
      z: 1,
      program: { shaderKey: `pita_flat_${kind}`, workgroupSize: [kind === 'sumSquares' ? SUM_THREADS : CHUNK, 1, 1] },
    };
    host.record(command);
    // The replacements of the in-place roles' tensors share their regions.
    return inPlace.map((ts, j) =>
      ts.map((t, i) => {
        const before = host.bufferOf(t);
        const after = host.acquire(before.size, before.usage);
        this.addMember(after, roles[j].arena, roles[j].offsets[i] * 4);
        this.pairs.push({ before, after, writer: command });
        return host.newTensor([...t.shape], after);
      }),
    );
  }
}

type FlatKind = 'adam' | 'adamScaled' | 'ema' | 'sumSquares';

/**
 * WGSL of each flat kernel. Each finds its tensor and element from the table (`at`), then computes
 * the per-parameter kernel's expression (webgpu-kernels.ts UPDATES) on the arenas.
 */
function flatShader(kind: FlatKind, stride: number): string {
  const u = 'struct U { c0 : f32, c1 : f32, c2 : f32, c3 : f32, c4 : f32, chunks : u32, nx : u32, tensors : u32 }';
  const rw = (i: number, name: string) => `@group(0) @binding(${i}) var<storage, read_write> ${name} : array<f32>;`;
  const ro = (i: number, name: string) => `@group(0) @binding(${i}) var<storage, read> ${name} : array<f32>;`;
  const tail = (i: number) => `@group(0) @binding(${i}) var<storage, read> T : array<u32>;\n@group(0) @binding(${i + 1}) var<uniform> u : U;`;
  // The element this thread updates: (its tensor's table record, index in the tensor), or index NONE.
  const at = `fn at(wg : vec3<u32>, lid : u32) -> vec2<u32> {
  let chunk = wg.y * u.nx + wg.x;
  if (chunk >= u.chunks) { return vec2<u32>(0u, ${NONE}u); }
  let rec = u.chunks + T[chunk] * ${stride}u;
  let e = (chunk - T[rec + 1u]) * ${CHUNK}u + lid;
  if (e >= T[rec]) { return vec2<u32>(rec, ${NONE}u); }
  return vec2<u32>(rec, e);
}`;
  const main = (body: string) => `@compute @workgroup_size(${CHUNK})
fn main(@builtin(workgroup_id) wg : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  let a = at(wg, lid.x);
  if (a.y == ${NONE}u) { return; }
  let rec = a.x;
  let e = a.y;
${body}
}`;
  switch (kind) {
    case 'adam':
    case 'adamScaled': {
      const g = kind === 'adam' ? 'G[T[rec + 4u] + e]' : 'G[T[rec + 4u] + e] * C[0]';
      return [u, rw(0, 'P'), rw(1, 'MV'), ro(2, 'G'), ro(3, 'F'), ...(kind === 'adam' ? [tail(4)] : [ro(4, 'C'), tail(5)]), at,
        main(`  let n = T[rec];
  let ip = T[rec + 2u] + e;
  let im = T[rec + 3u] + e;
  let g = ${g};
  let m = u.c0 * MV[im] + u.c1 * g;
  let v = u.c2 * MV[im + n] + u.c3 * (g * g);
  MV[im] = m;
  MV[im + n] = v;
  P[ip] = P[ip] - (m / (sqrt(v) / F[1] + u.c4)) * F[0];`)].join('\n');
    }
    case 'ema':
      return [u, rw(0, 'S'), ro(1, 'P'), ro(2, 'F'), tail(3), at,
        main(`  let j = T[rec + 2u] + e;
  let s = S[j];
  S[j] = s - (s - P[T[rec + 3u] + e]) * F[0];`)].join('\n');
    case 'sumSquares':
      // One workgroup per tensor: strided partial sums, then a tree in workgroup memory (a fixed order).
      return [u, rw(0, 'OUT'), ro(1, 'G'), tail(2), `var<workgroup> part : array<f32, ${SUM_THREADS}>;
@compute @workgroup_size(${SUM_THREADS})
fn main(@builtin(workgroup_id) wg : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  let k = wg.y * u.nx + wg.x;
  if (k >= u.tensors) { return; }
  let rec = u.chunks + k * ${stride}u;
  let n = T[rec];
  let o = T[rec + 2u];
  var acc = 0.0;
  for (var e = lid.x; e < n; e = e + ${SUM_THREADS}u) {
    let x = G[o + e];
    acc = acc + x * x;
  }
  part[lid.x] = acc;
  workgroupBarrier();
  for (var s = ${SUM_THREADS / 2}u; s > 0u; s = s >> 1u) {
    if (lid.x < s) { part[lid.x] = part[lid.x] + part[lid.x + s]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) { OUT[k] = part[0]; }
}`].join('\n');
  }
}

const pipelines = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

function flatPipeline(device: GPUDevice, kind: FlatKind, stride: number): GPUComputePipeline {
  let cache = pipelines.get(device);
  if (cache === undefined) pipelines.set(device, (cache = new Map()));
  const key = `${kind}_${stride}`;
  let p = cache.get(key);
  if (p === undefined) {
    const module = device.createShaderModule({ code: flatShader(kind, stride) });
    p = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    cache.set(key, p);
  }
  return p;
}
