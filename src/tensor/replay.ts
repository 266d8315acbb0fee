/**
 * Capture and replay of a static-shape step (a training step, an annealing
 * evaluation) on the WebGPU backend.
 *
 * Why: tfjs-backend-webgpu spends ~200 µs of JavaScript per kernel (shader
 * key, uniforms, bind group, bookkeeping), so an EGNN second-order training
 * step of ~1500 kernels costs ~300 ms of host time for under 1 ms of GPU
 * arithmetic. The shapes of a step never change, so its kernels, their
 * pipelines, bind groups and uniforms are the same every time: we run the
 * step once through tfjs while recording every compute dispatch and buffer
 * copy it encodes, then replay the recording into one command encoder.
 * The networks, losses and their verified gradients stay defined once, in
 * the ops layer; only the execution of the finished kernel list changes.
 *
 * The capture executes nothing: each tensor tfjs makes in the step gets a
 * placeholder buffer, and once the whole step is recorded a memory plan
 * (src/tensor/buffer-plan.ts) maps the placeholders whose lives do not
 * overlap onto shared real buffers, and the bind groups are made. tfjs's own
 * pool reuses a buffer only for the exact same byte size, which left the
 * paper's DiT at B = 2048 holding 84 GB; the plan needs about a ninth of the
 * step's tensor bytes, within 1 % of the most bytes live at one command. The
 * first run is then the first replay.
 *
 * What makes a replay equal to a fresh run:
 * - host data enters only through the step's declared inputs (written into
 *   their buffers before each replay) and through the state (see below);
 *   constants the step uploads itself (scalars, masks) are baked in, so
 *   per-step host numbers (Adam's bias corrections, σ, β) must be inputs;
 * - every buffer the host writes during the capture (uniforms, uploaded
 *   constants) is real and kept, so its contents survive; every other
 *   buffer holds one tensor from the command that makes it to the last that
 *   reads it, and nothing else during that time;
 * - no read happens inside the step (a read throws during the capture);
 * - tensors made in the step outlive it only as outputs or state (checked);
 * - state: tensors the step replaces (parameters, optimiser moments, EMA
 *   shadows) are listed by `state()`. The recording reads the tensors from
 *   before the capture and writes those after it, so each later replay
 *   first copies the current values into the recorded input buffers; state
 *   that the optimiser's flat kernels update in place lives in an arena
 *   instead (flat-update.ts), which the owner's tensors catch up with when
 *   anything else may read them (`catchUp`). A
 *   replay checks that `state()` still returns the tensors of the capture (a
 *   restored checkpoint replaces them) and throws `StaleCaptureError` if not.
 *
 * On the wasm backend a "capture" simply runs the step each time (the same
 * interface, no recording).
 */
import * as tf from '@tensorflow/tfjs-core';
import { NonFiniteError } from '../core/errors.js';
import { backendInfo } from './backend.js';
import { type LogicalBuffer, planBuffers } from './buffer-plan.js';
import { type Arena, FlatRecorder, withFlatRecorder } from './flat-update.js';
import { GpuError, throwIfGpuFailed } from './gpu-errors.js';
import { type DispatchShape, DispatchTimer, type StepProfile, kernelName, kernelTimes } from './gpu-profile.js';
import { COPY_DST, MAP_READ, MAP_WRITE, UNIFORM } from './gpu-usage.js';
import { keep } from './memory.js';
import { type GemmDispatch, wantsTuning } from './webgpu-gemm.js';
import { tuneGemms } from './webgpu-gemm-tune.js';
import { type Tensor, raw, wrap } from './tensor.js';

/** A replay found the state tensors replaced since the capture: capture again. */
export class StaleCaptureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StaleCaptureError';
  }
}

export interface StepSpec {
  /** Shapes of the host inputs, in the order `run` takes their values. */
  inputs: readonly (readonly number[])[];
  /** The current state tensors (called before and after the step, and at each replay to check them). */
  state: () => Tensor[];
  /**
   * The step: reads the inputs and the state, replaces state tensors (e.g.
   * through ParamStore.assign), returns its outputs. It runs inside a tfjs
   * scope; returned tensors are kept by the captured step.
   */
  step: (inputs: Tensor[]) => Tensor[];
}

export interface CapturedStep {
  /** Whether this step replays a recording (webgpu) or runs the step eagerly (wasm). */
  readonly replaying: boolean;
  /** Kernels dispatched per run (0 for eager). */
  readonly dispatches: number;
  /**
   * GPU bytes of the recording (0 for eager): `planned`, the real buffers it holds (intermediates shared by
   * the memory plan, uniforms, inputs, outputs; not the state, which its owner holds); `tensors`, the bytes
   * of the step's tensors, each counted whole (what the plan shares out).
   */
  readonly memory: { tensors: number; planned: number };
  /** What each replayed dispatch is, in order (kernel, threads, bytes bound); empty for eager. Set by the first run. */
  readonly shapes: readonly DispatchShape[];
  /** Run one step on these input values; resolves with the outputs' values (one read). */
  run(inputs: readonly Float32Array[]): Promise<Float32Array[]>;
  /**
   * Run one step (a real one: the state advances, as with `run`) with each kernel timed on the GPU
   * (gpu-profile.ts); null where there is nothing to time: the CPU, or a device without timestamp queries.
   */
  profile(inputs: readonly Float32Array[]): Promise<StepProfile | null>;
  /** Free the recording, its buffers and the outputs. The state tensors stay with their owner. */
  dispose(): void;
}

/** Capture `spec` on the active backend (the first `run` records and executes it). */
export function captureStep(spec: StepSpec): CapturedStep {
  // PITA_CAPTURE=0 runs every step through tfjs (to tell a replay problem from a kernel one; it must change nothing).
  const replay = backendInfo().name === 'webgpu' && process.env.PITA_CAPTURE !== '0';
  return replay ? new ReplayedStep(spec) : new EagerStep(spec);
}

function checkInputs(spec: StepSpec, values: readonly Float32Array[]): void {
  if (values.length !== spec.inputs.length) throw new RangeError(`captured step: ${values.length} inputs given, ${spec.inputs.length} declared`);
  values.forEach((v, i) => {
    const n = spec.inputs[i].reduce((a, b) => a * b, 1);
    if (v.length !== n) throw new RangeError(`captured step: input ${i} has ${v.length} values, shape [${spec.inputs[i].join(', ')}] needs ${n}`);
    const bad = v.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) throw new NonFiniteError(`captured step: input ${i} has the non-finite value ${v[bad]} at flat index ${bad}`);
  });
}

/** The wasm path: the step runs through tfjs every time. */
class EagerStep implements CapturedStep {
  readonly replaying = false;
  readonly dispatches = 0;
  readonly memory = { tensors: 0, planned: 0 };
  readonly shapes: readonly DispatchShape[] = [];
  constructor(private readonly spec: StepSpec) {}

  async run(values: readonly Float32Array[]): Promise<Float32Array[]> {
    checkInputs(this.spec, values);
    const outs = tf.tidy(() => {
      const inputs = values.map((v, i) => wrap(tf.tensor(v, this.spec.inputs[i] as number[], 'float32')));
      return this.spec.step(inputs).map(raw);
    });
    try {
      return (await Promise.all(outs.map((o) => o.data()))) as Float32Array[];
    } finally {
      tf.dispose(outs);
    }
  }

  async profile(): Promise<StepProfile | null> {
    return null;
  }

  dispose(): void {}
}

// ---------------------------------------------------------------- WebGPU

/* The parts of tfjs-backend-webgpu 4.22's WebGPUBackend that a capture touches. */
interface BufferManagerLike {
  acquireBuffer(size: number, usage: number, mappedAtCreation?: boolean, reuse?: boolean): GPUBuffer;
  releaseBuffer(buffer: GPUBuffer, reuse?: boolean): void;
  numBytesUsed: number;
  numBytesAllocated: number;
  usedBuffers: Map<string, GPUBuffer[]>;
  freeBuffers?: Map<string, GPUBuffer[]>;
  numFreeBuffers?: number;
}
interface TensorDataLike {
  resource: GPUBuffer | null;
  values: unknown;
}
interface WebGpuBackendLike {
  device: GPUDevice;
  queue: GPUQueue;
  bufferManager: BufferManagerLike;
  commandEncoder: GPUCommandEncoder | null;
  computePassEncoder: GPUComputePassEncoder | null;
  tensorMap: { has(id: object): boolean; get(id: object): TensorDataLike | undefined };
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  uploadToGPU(dataId: object): void;
  write(values: unknown, shape: number[], dtype: string): object;
  read(dataId: object): Promise<unknown>;
  readSync(dataId: object): unknown;
  makeTensorInfo(shape: number[], dtype: 'float32'): tf.TensorInfo;
  runWebGPUProgram(program: ProgramLike, ...rest: unknown[]): unknown;
}
/** What a capture reads of a tfjs WebGPU program at its dispatch (runWebGPUProgram sets the full key first). */
interface ProgramLike {
  shaderKey: string;
  workgroupSize: [number, number, number];
  /** Set by pita's tiled matrix kernel (webgpu-gemm.ts). */
  gemm?: GemmDispatch;
}

/**
 * Commands per command buffer of a replay. Encoding a command costs the host ~6 µs and Dawn's submit
 * ~2–3 µs more (it records the Vulkan commands then; measured on lavapipe), ~10 ms for the DiT's step:
 * in one command buffer the GPU would wait for all of it. Submitted in pieces, the GPU runs each piece
 * while the host encodes the next (the queue keeps their order). `PITA_SUBMIT_EVERY=0` submits one
 * command buffer, as before (to compare the two on a device); a profile always does.
 */
const SUBMIT_EVERY = 128;
const submitEvery = (): number => {
  const v = process.env.PITA_SUBMIT_EVERY;
  return v === undefined || v === '' ? SUBMIT_EVERY : Math.max(0, Math.floor(Number(v)) || 0);
};

/** A recorded dispatch or copy. Dispatches keep their bindings: the bind groups are made after the memory plan. */
type Recorded =
  | { kind: 'dispatch'; pipeline: GPUComputePipeline; layout: GPUBindGroupLayout; entries: GPUBindGroupEntry[]; x: number; y: number; z: number; program: ProgramLike | null }
  | Copy;
type Copy = { kind: 'copy'; src: GPUBuffer; srcOffset: number; dst: GPUBuffer; dstOffset: number; size: number };
/**
 * What a replay encodes. A product on pita's tiled kernel keeps its bindings and its case (`gemm`), so
 * that it can move to the variant timed fastest (webgpu-gemm-tune.ts).
 */
type Command = Dispatch | Copy;
type Dispatch = {
  kind: 'dispatch';
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  x: number;
  y: number;
  z: number;
  shape: DispatchShape;
  gemm?: { dispatch: GemmDispatch; entries: GPUBindGroupEntry[] };
};


/**
 * Stands in for a GPU buffer during a capture: tfjs sees a GPUBuffer of the
 * right size and usage, and only the recording ever refers to it. The
 * memory plan gives it real memory afterwards.
 */
function placeholder(size: number, usage: number): GPUBuffer {
  const b = Object.create(GPUBuffer.prototype) as GPUBuffer;
  Object.defineProperties(b, {
    size: { value: size },
    usage: { value: usage },
    mapState: { value: 'unmapped' },
    label: { value: 'pita capture placeholder', writable: true },
    destroy: { value: () => {} },
  });
  return b;
}

/**
 * The capture's buffer manager. Buffers the host writes (uniforms, uploads)
 * are real and kept: the recording binds them and their contents. Every
 * other buffer tfjs asks for is a fresh placeholder, one per tensor, which
 * the memory plan maps onto shared real buffers. Buffers of tensors created
 * before the capture and freed during it (the state the step replaced) are
 * kept: the recording reads them.
 */
class CapturePool implements BufferManagerLike {
  numBytesUsed = 0;
  numBytesAllocated = 0;
  usedBuffers = new Map<string, GPUBuffer[]>();
  /** Every real buffer this pool created or was given. */
  readonly owned = new Set<GPUBuffer>();
  /** Buffers from outside the capture that were released during it. */
  readonly adopted = new Set<GPUBuffer>();
  readonly placeholders = new Set<GPUBuffer>();
  /** Placeholders whose tensor was freed during the capture. */
  readonly released = new Set<GPUBuffer>();

  constructor(private readonly device: GPUDevice) {}

  acquireBuffer(size: number, usage: number, mappedAtCreation = false): GPUBuffer {
    if ((usage & MAP_READ) !== 0) throw new Error('captured step: a tensor was read inside the step; reads belong after it');
    if (mappedAtCreation || (usage & UNIFORM) !== 0 || (usage & MAP_WRITE) !== 0) {
      const b = this.device.createBuffer({ size, usage, mappedAtCreation });
      this.owned.add(b);
      return b;
    }
    const b = placeholder(size, usage);
    this.placeholders.add(b);
    return b;
  }

  releaseBuffer(b: GPUBuffer): void {
    if (this.placeholders.has(b)) this.released.add(b);
    else if (!this.owned.has(b)) this.adopted.add(b);
  }

  /** Bytes of the real buffers the pool owns. */
  ownedBytes(): number {
    let n = 0;
    for (const b of this.owned) n += b.size;
    return n;
  }
}

/** Ends tfjs's open pass and submits (an empty command buffer if need be), which runs its deferred frees. */
function flush(be: WebGpuBackendLike): void {
  be.endComputePassEncoder();
  be.ensureCommandEncoderReady();
  be.submitQueue();
}

function webgpuBackend(): WebGpuBackendLike {
  return tf.backend() as unknown as WebGpuBackendLike;
}

function tensorData(be: WebGpuBackendLike, t: Tensor): TensorDataLike {
  const d = be.tensorMap.get(raw(t).dataId);
  if (!d) throw new Error('captured step: tensor has no data on the backend (disposed?)');
  return d;
}

function bufferOf(be: WebGpuBackendLike, t: Tensor): GPUBuffer {
  if (!tensorData(be, t).resource) be.uploadToGPU(raw(t).dataId);
  return tensorData(be, t).resource as GPUBuffer;
}

/** The buffers a recorded command uses, the one it writes first (tfjs binds a kernel's output first). */
function buffersOf(c: Recorded): (GPUBuffer | null)[] {
  return c.kind === 'copy' ? [c.dst, c.src] : c.entries.map(entryBuffer);
}

/** The buffer a bind group entry binds (null for a texture or sampler). */
function entryBuffer(e: GPUBindGroupEntry): GPUBuffer | null {
  const r = e.resource as Partial<GPUBufferBinding>;
  return r.buffer instanceof GPUBuffer ? r.buffer : null;
}

/**
 * A recording encoder: logs dispatches and copies and executes nothing (the
 * buffers are placeholders); `finish` gives tfjs an empty command buffer to submit.
 */
function recordingEncoder(
  device: GPUDevice,
  bindings: Map<GPUBindGroup, GPUBindGroupDescriptor>,
  log: Recorded[],
  program: () => ProgramLike | null,
): GPUCommandEncoder {
  const pass = (): GPUComputePassEncoder => {
    let pipeline: GPUComputePipeline | null = null;
    let bindGroup: GPUBindGroupDescriptor | null = null;
    return {
      setPipeline(pl: GPUComputePipeline) {
        pipeline = pl;
      },
      setBindGroup(index: number, bg: GPUBindGroup) {
        if (index !== 0) throw new Error('captured step: only bind group 0 is supported');
        bindGroup = bindings.get(bg) ?? null;
        if (bindGroup === null) throw new Error('captured step: a bind group made outside the capture');
      },
      dispatchWorkgroups(x: number, y = 1, z = 1) {
        if (pipeline === null || bindGroup === null) throw new Error('captured step: dispatch before pipeline and bind group');
        const entries = [...(bindGroup.entries as Iterable<GPUBindGroupEntry>)];
        log.push({ kind: 'dispatch', pipeline, layout: bindGroup.layout, entries, x, y, z, program: program() });
      },
      end() {},
    } as unknown as GPUComputePassEncoder;
  };
  const real = device.createCommandEncoder();
  return {
    beginComputePass(desc?: GPUComputePassDescriptor) {
      if (desc?.timestampWrites) throw new Error('captured step: profiling (timestamp queries) is not supported while capturing');
      return pass();
    },
    copyBufferToBuffer(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number) {
      log.push({ kind: 'copy', src, srcOffset, dst, dstOffset, size });
    },
    finish() {
      return real.finish();
    },
  } as unknown as GPUCommandEncoder;
}

class ReplayedStep implements CapturedStep {
  readonly replaying = true;
  private log: Command[] = [];
  private pool: CapturePool | null = null;
  private inputs: Tensor[] = [];
  private inputBuffers: GPUBuffer[] = [];
  private outputs: Tensor[] = [];
  private outputBuffers: GPUBuffer[] = [];
  /** State copies done before each replay but the first: current values (after) into the recorded inputs (before). */
  private stateCopies: { from: GPUBuffer; to: GPUBuffer; size: number }[] = [];
  /**
   * Tensors that outlive the step but lie in an arena during it (flat-update.ts) get their values copied
   * into their own buffers: outputs at the end of each replay (the read needs them), the owner's state
   * when anything else may use it (`catchUp`).
   */
  private outputCopies: Copy[] = [];
  private ownerCopies: Copy[] = [];
  private stateAfter: Tensor[] = [];
  /** Mappable buffers the outputs are copied into, one per read in flight: all made, and those free now. */
  private readonly readBuffers = new Set<GPUBuffer>();
  private freeReadBuffers: GPUBuffer[] = [];
  /** Where each output lies in a read buffer, and the buffer's size. */
  private readLayout: { offsets: number[]; size: number } | null = null;
  /** Bytes of the step's tensors, each in its own buffer (what the plan shares out). */
  private tensorBytes = 0;
  private disposed = false;
  /** Why the capture failed (every later run throws it). */
  private failed: Error | null = null;

  constructor(private readonly spec: StepSpec) {}

  get dispatches(): number {
    return this.log.filter((c) => c.kind === 'dispatch').length;
  }

  get shapes(): DispatchShape[] {
    return this.log.flatMap((c) => (c.kind === 'dispatch' ? [c.shape] : []));
  }

  get memory(): { tensors: number; planned: number } {
    return { tensors: this.tensorBytes, planned: this.pool?.ownedBytes() ?? 0 };
  }

  /**
   * The run being submitted. Runs share the input, output and intermediate buffers, so each is
   * submitted after the one before (the first, the capture, also finished); the queue then runs them
   * in that order. Their reads are waited for apart: runs called together (the chunks of an
   * annealing step) cost one round trip to the GPU, not one each.
   */
  private last: Promise<unknown> = Promise.resolve();

  run(values: readonly Float32Array[]): Promise<Float32Array[]> {
    return this.serialised(() => this.submit(values)).then((read) => read());
  }

  profile(values: readonly Float32Array[]): Promise<StepProfile | null> {
    return this.serialised(() => this.profileNow(values));
  }

  private serialised<R>(f: () => Promise<R>): Promise<R> {
    const next = this.last.then(f);
    this.last = next.catch(() => {});
    return next;
  }

  private async profileNow(values: readonly Float32Array[]): Promise<StepProfile | null> {
    const be = webgpuBackend();
    if (!be.device.features.has('timestamp-query')) return null;
    // The first run captures (untimed: nothing is recorded to time before it).
    if (this.pool === null) await this.captureAndRun(values);
    if (this.failed !== null) throw this.failed;
    checkInputs(this.spec, values);
    const timer = new DispatchTimer(be.device, this.dispatches);
    this.replay(be, values, false, timer);
    const outputs = await this.readOutputs(be);
    return { outputs, ...kernelTimes(this.shapes, await timer.durations()) };
  }

  /** Submits a run and its copy to a read buffer; the function waits for the read (the capture's has happened). */
  private async submit(values: readonly Float32Array[]): Promise<() => Promise<Float32Array[]>> {
    if (this.pool === null) {
      const outputs = await this.captureAndRun(values);
      return () => Promise.resolve(outputs);
    }
    this.checkUsable(values);
    const be = webgpuBackend();
    this.replay(be, values, false);
    const read = this.submitRead(be);
    return async () => {
      const outputs = await read();
      throwIfGpuFailed();
      return outputs;
    };
  }

  private checkUsable(values: readonly Float32Array[]): void {
    if (this.disposed) throw new Error('captured step: used after dispose');
    if (this.failed !== null) throw this.failed;
    checkInputs(this.spec, values);
  }

  /** The first run: capture, then replay (every later run goes through `submit`). */
  private async captureAndRun(values: readonly Float32Array[]): Promise<Float32Array[]> {
    this.checkUsable(values);
    const be = webgpuBackend();
    // The capture makes every pipeline, buffer and bind group the step uses: what WebGPU refuses there
    // (a limit, its memory) is caught here, for this step, rather than reported later to the device.
    be.device.pushErrorScope('out-of-memory');
    be.device.pushErrorScope('validation');
    let outputs: Float32Array[] | null = null;
    let error: unknown = null;
    try {
      this.capture(be, values);
      this.replay(be, values, true);
      outputs = await this.readOutputs(be);
    } catch (e) {
      error = e;
    }
    const invalid = await be.device.popErrorScope();
    const outOfMemory = await be.device.popErrorScope();
    const refused = invalid ?? outOfMemory;
    if (refused !== null) error = new GpuError(`WebGPU refused a captured step: ${refused.message.split('\n')[0]}`);
    if (error !== null || outputs === null) {
      // A half-made or refused recording must never be replayed.
      this.failed = error instanceof Error ? error : new Error(String(error));
      throw this.failed;
    }
    throwIfGpuFailed();
    await this.tuneProducts(be);
    return outputs;
  }

  /**
   * Times the variants of the step's large products not timed yet (webgpu-gemm-tune.ts; PITA_GEMM unset
   * or `auto`) and points their dispatches at the fastest: the same bindings, bound through the winner's
   * pipeline layout (every variant binds the same buffers and uniforms), and the winner's workgroups.
   */
  private async tuneProducts(be: WebGpuBackendLike): Promise<void> {
    const products = this.log.filter((c): c is Dispatch & Required<Pick<Dispatch, 'gemm'>> => c.kind === 'dispatch' && c.gemm !== undefined);
    const cases = new Map(products.filter((c) => c.gemm.dispatch.chosen).map((c) => c.gemm.dispatch.case).filter((k) => wantsTuning(be.device, k)).map((k) => [k.key, k]));
    if (cases.size === 0) return;
    const chosen = await tuneGemms([...cases.values()], captureStep);
    for (const c of products) {
      const t = chosen.get(c.gemm.dispatch.case.key);
      if (t?.replay === undefined || t.variant === c.gemm.dispatch.variant) continue;
      const { pipeline, dispatch, workgroupSize } = t.replay;
      c.pipeline = pipeline;
      c.bindGroup = be.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: c.gemm.entries });
      [c.x, c.y, c.z] = dispatch;
      c.gemm.dispatch = { ...c.gemm.dispatch, variant: t.variant };
      const workgroups = c.x * c.y * c.z;
      c.shape = { ...c.shape, workgroups, threads: workgroups * workgroupSize.reduce((a, b) => a * b, 1) };
    }
  }

  /** Records the step (nothing runs on the GPU), then plans its memory and makes its bind groups. */
  private capture(be: WebGpuBackendLike, values: readonly Float32Array[]): void {
    // Start from an empty command encoder, so that the recording holds this step only, and from current state.
    flush(be);
    hookOwnerReads(be);
    catchUp(be);
    const main = be.bufferManager;
    // The recording gets its own memory: give back what tfjs's pool holds unused (an eager
    // first step of the same size leaves a whole step's intermediates there).
    releaseFreeBuffers(main);
    const pool = new CapturePool(be.device);
    const log: Recorded[] = [];
    const device = be.device;
    const createBindGroup = device.createBindGroup;
    const bindings = new Map<GPUBindGroup, GPUBindGroupDescriptor>();
    // tfjs makes one bind group per dispatch; during the capture it is only a token for its entries.
    device.createBindGroup = (desc: GPUBindGroupDescriptor) => {
      const token = Object.create(GPUBindGroup.prototype) as GPUBindGroup;
      bindings.set(token, desc);
      return token;
    };
    const ensure = be.ensureCommandEncoderReady;
    const read = be.read;
    const readSync = be.readSync;
    const write = be.write;
    const upload = be.uploadToGPU;
    const runProgram = be.runWebGPUProgram;
    // The program being run names the dispatch it records and gives its workgroup size (profiles).
    let program: ProgramLike | null = null;
    const before = this.spec.state();
    const beforeBuffers = before.map((t) => bufferOf(be, t));
    const flat = this.flatRecorder(be, pool, log);
    be.bufferManager = pool;
    try {
      this.inputs = values.map((v, i) => keep(wrap(tf.tensor(v, this.spec.inputs[i] as number[], 'float32'))));
      this.inputBuffers = this.inputs.map((t) => bufferOf(be, t));
      be.ensureCommandEncoderReady = function (this: WebGpuBackendLike) {
        if (this.commandEncoder === null) this.commandEncoder = recordingEncoder(this.device, bindings, log, () => program);
      };
      be.runWebGPUProgram = function (this: WebGpuBackendLike, p: ProgramLike, ...rest: unknown[]) {
        const outer = program;
        program = p;
        try {
          return runProgram.call(this, p, ...rest);
        } finally {
          program = outer;
        }
      };
      const noRead = () => {
        throw new Error('captured step: a tensor was read inside the step; reads belong after it');
      };
      be.read = noRead;
      be.readSync = noRead;
      // A tensor made before the capture but first uploaded inside it (a network's parameters at their
      // first use) outlives the capture: its buffer comes from the main pool, like any tensor's.
      const made = new WeakSet<object>();
      be.write = function (this: WebGpuBackendLike, values, shape, dtype) {
        const id = write.call(this, values, shape, dtype);
        made.add(id);
        return id;
      };
      be.uploadToGPU = function (this: WebGpuBackendLike, dataId) {
        if (made.has(dataId)) return upload.call(this, dataId);
        this.bufferManager = main;
        try {
          upload.call(this, dataId);
        } finally {
          this.bufferManager = pool;
        }
      };
      const outs = tf.tidy(() => withFlatRecorder(flat, () => this.spec.step(this.inputs).map(raw)));
      this.outputs = outs.map((o) => keep(wrap(o)));
      // Submitting also frees the tensors the step disposed (tfjs defers that to a submit), into the pool.
      flush(be);
    } finally {
      // The own property shadows the prototype's method: deleting it restores the device.
      delete (device as Partial<GPUDevice>).createBindGroup;
      if (device.createBindGroup !== createBindGroup) device.createBindGroup = createBindGroup;
      be.ensureCommandEncoderReady = ensure;
      be.read = read;
      be.readSync = readSync;
      be.write = write;
      be.uploadToGPU = upload;
      be.runWebGPUProgram = runProgram;
      be.bufferManager = main;
    }
    this.pool = pool;
    this.stateAfter = this.spec.state();
    if (this.stateAfter.length !== before.length) throw new Error('captured step: state() changed length during the step');
    const afterPlaceholders = this.stateAfter.map((t) => tensorData(be, t).resource);
    // Tensors that outlive the capture (outputs, new state) get real buffers of their own.
    const kept = new Map<GPUBuffer, GPUBuffer>();
    for (const t of [...this.outputs, ...this.stateAfter]) {
      const d = tensorData(be, t);
      const p = d.resource;
      if (p === null || !pool.placeholders.has(p)) continue;
      if (!kept.has(p)) {
        const b = be.device.createBuffer({ size: p.size, usage: p.usage });
        pool.owned.add(b);
        kept.set(p, b);
      }
      d.resource = kept.get(p)!;
    }
    const held = [...pool.placeholders].filter((p) => !pool.released.has(p) && !kept.has(p));
    if (held.length > 0) throw new Error(`captured step: ${held.length} tensors made in the step outlive it but are neither outputs nor state`);
    this.outputBuffers = this.outputs.map((t) => bufferOf(be, t));
    // Two state tensors sharing storage (an Identity copy) cannot both be state: the replay restores each into its own buffer.
    before.forEach((b, i) => {
      const j = beforeBuffers.indexOf(beforeBuffers[i]);
      if (j !== i && (this.stateAfter[i] !== b || this.stateAfter[j] !== before[j])) {
        throw new Error(`captured step: state tensors ${j} and ${i} share their storage and the step replaces one; give each a copy of its own`);
      }
    });
    this.stateCopies = [];
    before.forEach((b, i) => {
      const a = this.stateAfter[i];
      if (a === b) return;
      const from = bufferOf(be, a);
      const to = beforeBuffers[i];
      // The recording reads `to`; it is safe to write only if the step freed its tensor (nothing else holds it).
      if (!pool.adopted.has(to)) throw new Error(`captured step: state tensor ${i} was replaced but its old tensor was not freed by the step`);
      // A state tensor a flat kernel updates in place needs no copy: its arena region holds the current value.
      if (flat.regionOf(to) !== undefined) {
        if (flat.pairs.find((p) => p.before === to)?.after !== afterPlaceholders[i]) throw new Error(`captured step: state tensor ${i} was updated in place and then replaced again`);
        return;
      }
      this.stateCopies.push({ from, to, size: from.size });
    });
    for (const p of flat.pairs) if (!pool.adopted.has(p.before)) throw new Error('captured step: a state tensor updated in place is still held outside the step');
    // Tensors made in the capture that outlive it (the new state) are freed later through the main manager.
    for (const t of this.stateAfter) adoptInto(main, bufferOf(be, t), pool);
    this.log = this.plan(be, pool, log, kept, flat);
  }

  /** The recorder of the step's flat kernels (flat-update.ts), on this capture's pool and log. */
  private flatRecorder(be: WebGpuBackendLike, pool: CapturePool, log: Recorded[]): FlatRecorder {
    const device = be.device;
    return new FlatRecorder({
      device,
      bufferOf: (t) => bufferOf(be, wrap(t)),
      isPlaceholder: (b) => pool.placeholders.has(b),
      isStepOwned: (b) => pool.owned.has(b),
      acquire: (size, usage) => pool.acquireBuffer(size, usage),
      virtual: (size, usage) => placeholder(size, usage),
      own: (size, usage, data) => {
        const b = device.createBuffer({ size, usage, mappedAtCreation: true });
        new Uint8Array(b.getMappedRange()).set(new Uint8Array(data));
        b.unmap();
        pool.owned.add(b);
        return b;
      },
      newTensor: (shape, buffer) => {
        const info = be.makeTensorInfo(shape, 'float32');
        (be.tensorMap.get(info.dataId) as TensorDataLike).resource = buffer;
        return tf.engine().makeTensorFromTensorInfo(info);
      },
      record: (c) => log.push(c),
      writtenTogether: (buffers) =>
        log.some((c) => {
          const uses = buffersOf(c);
          return uses[0] !== null && buffers.has(uses[0]) && uses.slice(1).some((b) => b !== null && b !== uses[0] && buffers.has(b));
        }),
    });
  }

  /**
   * Gives the step's intermediate tensors real memory (src/tensor/buffer-plan.ts): each freed
   * placeholder lives from the first to the last command that uses it, and placeholders whose lives do
   * not overlap share a buffer. The flat kernels' arenas (flat-update.ts) get buffers of their own, which
   * their members are bound in by range; the in-place arenas start from the state's current values.
   * Then makes the bind groups.
   */
  private plan(be: WebGpuBackendLike, pool: CapturePool, recorded: readonly Recorded[], kept: Map<GPUBuffer, GPUBuffer>, flat: FlatRecorder): Command[] {
    checkInPlace(recorded, flat);
    const log = withoutUnread(recorded, pool.released, (b) => {
      const arena = flat.arenaOf(b);
      return arena === undefined ? [b] : [...arena.members.keys()];
    });
    const lives = new Map<GPUBuffer, LogicalBuffer>();
    const use = (b: GPUBuffer | null, at: number): void => {
      if (b === null || !pool.released.has(b) || flat.regionOf(b) !== undefined || flat.viewOf(b) !== undefined) return;
      const l = lives.get(b);
      if (l === undefined) lives.set(b, { size: b.size, usage: b.usage, first: at, last: at });
      else l.last = at;
    };
    log.forEach((c, at) => {
      for (const b of buffersOf(c)) use(b, at);
    });
    const placeholders = [...lives.keys()];
    const plan = planBuffers(placeholders.map((p) => lives.get(p)!));
    const buffers = plan.physical.map(({ size, usage }) => be.device.createBuffer({ size, usage }));
    for (const b of buffers) pool.owned.add(b);
    const arenas = new Map<Arena, GPUBuffer>(flat.arenas.map((a) => [a, be.device.createBuffer({ size: a.size, usage: a.usage })]));
    for (const b of arenas.values()) pool.owned.add(b);
    const real = new Map(kept);
    placeholders.forEach((p, i) => real.set(p, buffers[plan.assign[i]]));
    this.tensorBytes = [...lives.values(), ...kept.keys()].reduce((n, l) => n + l.size, 0) + flat.arenas.reduce((n, a) => n + a.size, 0);
    /** Where a recorded buffer lies: an arena or a member's region in one, else the buffer the plan gave it. */
    const place = (b: GPUBuffer): { buffer: GPUBuffer; offset: number } => {
      const view = flat.viewOf(b);
      if (view !== undefined) {
        const source = place(view.source);
        return { buffer: source.buffer, offset: source.offset + view.offset };
      }
      const arena = flat.arenaOf(b);
      if (arena !== undefined) return { buffer: arenas.get(arena)!, offset: 0 };
      const region = flat.regionOf(b);
      if (region !== undefined) return { buffer: arenas.get(region.arena)!, offset: region.offset };
      if (!pool.placeholders.has(b)) return { buffer: b, offset: 0 };
      const r = real.get(b);
      // A placeholder no command uses and no tensor holds never needs memory; one that is used always has it.
      if (r === undefined) throw new Error('captured step: a recorded command uses a buffer the memory plan did not place');
      return { buffer: r, offset: 0 };
    };
    // The state updated in place starts from its values now (nothing has run yet). Tensors that outlive the
    // step get their values from the arenas: outputs after each replay, the owner's state when `catchUp` runs.
    const init = be.device.createCommandEncoder();
    for (const { before } of flat.pairs) {
      const to = place(before);
      init.copyBufferToBuffer(before, 0, to.buffer, to.offset, before.size);
    }
    be.queue.submit([init.finish()]);
    // The old buffers are read no more (their tensors were freed by the step: checked in capture).
    for (const { before } of flat.pairs) before.destroy();
    const outputs = new Set(this.outputBuffers);
    this.outputCopies = [];
    this.ownerCopies = [];
    for (const [p, own] of kept) {
      if (flat.regionOf(p) === undefined && flat.viewOf(p) === undefined) continue;
      const from = place(p);
      (outputs.has(own) ? this.outputCopies : this.ownerCopies).push({ kind: 'copy', src: from.buffer, srcOffset: from.offset, dst: own, dstOffset: 0, size: p.size });
    }
    return log.map((c): Command => {
      if (c.kind === 'copy') {
        const src = place(c.src);
        const dst = place(c.dst);
        return { ...c, src: src.buffer, srcOffset: src.offset + c.srcOffset, dst: dst.buffer, dstOffset: dst.offset + c.dstOffset };
      }
      const entries = c.entries.map((e): GPUBindGroupEntry => {
        const b = entryBuffer(e);
        if (b === null) return e;
        const to = place(b);
        if (to.buffer === b) return e;
        // Bound by range: the shared buffer may be larger than this tensor.
        const r = e.resource as GPUBufferBinding;
        const offset = r.offset ?? 0;
        return { binding: e.binding, resource: { buffer: to.buffer, offset: to.offset + offset, size: r.size ?? b.size - offset } };
      });
      checkBindings(entries, c.program?.shaderKey ?? 'unnamed');
      const bindGroup = be.device.createBindGroup({ layout: c.layout, entries });
      const gemm = c.program?.gemm === undefined ? {} : { gemm: { dispatch: c.program.gemm, entries } };
      return { kind: 'dispatch', pipeline: c.pipeline, bindGroup, x: c.x, y: c.y, z: c.z, shape: dispatchShape(c), ...gemm };
    });
  }

  /**
   * Encodes the recording and submits it in command buffers of SUBMIT_EVERY commands; the first run after
   * the capture starts from the state as it is. With a `timer`, one command buffer in which each dispatch
   * runs in a compute pass of its own that the GPU timestamps.
   */
  private replay(be: WebGpuBackendLike, values: readonly Float32Array[], first: boolean, timer?: DispatchTimer): void {
    const now = this.spec.state();
    if (now.length !== this.stateAfter.length || now.some((t, i) => t !== this.stateAfter[i])) {
      throw new StaleCaptureError('captured step: the state tensors were replaced since the capture (capture the step again)');
    }
    flush(be);
    // Other recordings' lagging state may be bound here (the annealing field reads the trainer's parameters).
    catchUp(be, (r) => r !== this);
    values.forEach((v, i) => be.queue.writeBuffer(this.inputBuffers[i], 0, v.buffer, v.byteOffset, v.byteLength));
    let enc = be.device.createCommandEncoder();
    if (!first) for (const c of this.stateCopies) enc.copyBufferToBuffer(c.from, 0, c.to, 0, c.size);
    let pass: GPUComputePassEncoder | null = null;
    let pipeline: GPUComputePipeline | null = null;
    let timed = 0;
    let inBuffer = 0;
    const every = timer === undefined ? submitEvery() : 0;
    for (const c of this.log) {
      if (every > 0 && inBuffer >= every) {
        if (pass !== null) pass.end();
        pass = null;
        be.queue.submit([enc.finish()]);
        enc = be.device.createCommandEncoder();
        inBuffer = 0;
      }
      inBuffer++;
      if (c.kind === 'dispatch') {
        if (pass === null) {
          pass = enc.beginComputePass(timer?.pass(timed++));
          pipeline = null;
        }
        if (c.pipeline !== pipeline) {
          pass.setPipeline(c.pipeline);
          pipeline = c.pipeline;
        }
        pass.setBindGroup(0, c.bindGroup);
        pass.dispatchWorkgroups(c.x, c.y, c.z);
        if (timer !== undefined) {
          pass.end();
          pass = null;
        }
      } else {
        if (pass !== null) {
          pass.end();
          pass = null;
        }
        enc.copyBufferToBuffer(c.src, c.srcOffset, c.dst, c.dstOffset, c.size);
      }
    }
    if (pass !== null) pass.end();
    encodeCopies(enc, this.outputCopies);
    timer?.resolve(enc);
    be.queue.submit([enc.finish()]);
    if (this.ownerCopies.length > 0) lagging.add(this);
    // tfjs caches values it has read on the host: the state changed behind its back.
    for (const t of now) {
      const d = be.tensorMap.has(raw(t).dataId) ? be.tensorMap.get(raw(t).dataId) : undefined;
      if (d) d.values = null;
    }
  }

  /** Encodes the copies of the state from the arenas into the owner's tensors (`catchUp`). */
  encodeOwnerCopies(enc: GPUCommandEncoder): void {
    encodeCopies(enc, this.ownerCopies);
  }

  /** Copies every output into one mappable buffer and maps it once. */
  private readOutputs(be: WebGpuBackendLike): Promise<Float32Array[]> {
    return this.submitRead(be)();
  }

  /**
   * Submits the copy of every output into a free read buffer (made when none is free); the function
   * maps it once, takes the values and frees the buffer again.
   */
  private submitRead(be: WebGpuBackendLike): () => Promise<Float32Array[]> {
    if (this.readLayout === null) {
      let size = 0;
      const offsets = this.outputBuffers.map((b) => {
        const o = size;
        size += Math.ceil(b.size / 4) * 4;
        return o;
      });
      this.readLayout = { offsets, size: Math.max(4, size) };
    }
    const { offsets, size } = this.readLayout;
    let buffer = this.freeReadBuffers.pop();
    if (buffer === undefined) {
      buffer = be.device.createBuffer({ size, usage: MAP_READ | COPY_DST });
      this.readBuffers.add(buffer);
    }
    const target = buffer;
    const enc = be.device.createCommandEncoder();
    this.outputBuffers.forEach((b, i) => enc.copyBufferToBuffer(b, 0, target, offsets[i], b.size));
    be.queue.submit([enc.finish()]);
    return async () => {
      await target.mapAsync(MAP_READ);
      try {
        const all = target.getMappedRange();
        return this.outputs.map((t, i) => new Float32Array(all.slice(offsets[i], offsets[i] + raw(t).size * 4)));
      } finally {
        target.unmap();
        if (!this.disposed) this.freeReadBuffers.push(target);
      }
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const be = webgpuBackend();
    // The owner keeps the state: it gets its values before the arenas go.
    catchUp(be, (r) => r === this);
    const pool = this.pool;
    if (pool !== null) {
      // Outputs and inputs were made in the capture's pool: free them there, then destroy what it owns.
      const main = be.bufferManager;
      be.bufferManager = pool;
      try {
        tf.dispose([...this.inputs, ...this.outputs].map(raw));
      } finally {
        be.bufferManager = main;
      }
      // State tensors the owner still holds keep their buffers (a disposed tensor is no longer in the map).
      const live = new Set(
        this.stateAfter
          .filter((t) => be.tensorMap.has(raw(t).dataId))
          .map((t) => be.tensorMap.get(raw(t).dataId)?.resource)
          .filter((b): b is GPUBuffer => !!b),
      );
      for (const b of [...pool.owned, ...pool.adopted]) {
        if (live.has(b)) continue;
        forget(main, b);
        b.destroy();
      }
    } else {
      tf.dispose(this.inputs.map(raw));
    }
    for (const b of this.readBuffers) b.destroy();
    this.readBuffers.clear();
    this.freeReadBuffers = [];
    this.log = [];
  }
}

/**
 * A recorded dispatch as a profile sees it. tfjs binds the output first, then the inputs, then one uniform
 * buffer; pita's kernels follow it. Bytes are the bound ranges of storage buffers (what the kernel may
 * touch once each; a matrix product reads its operands more than once, through caches).
 */
function dispatchShape(c: Extract<Recorded, { kind: 'dispatch' }>): DispatchShape {
  const storage = c.entries.flatMap((e) => {
    const b = entryBuffer(e);
    if (b === null || (b.usage & UNIFORM) !== 0) return [];
    const r = e.resource as GPUBufferBinding;
    return [r.size ?? b.size - (r.offset ?? 0)];
  });
  const workgroups = c.x * c.y * c.z;
  const size = c.program?.workgroupSize ?? [0, 0, 0];
  return {
    kernel: c.program ? kernelName(c.program.shaderKey) : 'unnamed',
    workgroups,
    threads: workgroups * size[0] * size[1] * size[2],
    bytesWritten: storage[0] ?? 0,
    bytesRead: storage.slice(1).reduce((a, b) => a + b, 0),
  };
}

/**
 * The recording without the commands whose result nothing reads: a dispatch (tfjs binds its output
 * first) or copy that writes a tensor freed within the step that no later command uses. Such a kernel
 * made a gradient contribution that another kernel then took as an addend and recomputed
 * (src/tensor/accumulate.ts). Walking backward drops chains of them.
 */
function withoutUnread(log: readonly Recorded[], freed: ReadonlySet<GPUBuffer>, members: (b: GPUBuffer) => GPUBuffer[]): Recorded[] {
  const read = new Set<GPUBuffer>();
  const keep: Recorded[] = [];
  for (let i = log.length - 1; i >= 0; i--) {
    const c = log[i];
    const uses = buffersOf(c);
    const out = uses[0];
    if (out !== null && freed.has(out) && !read.has(out)) continue;
    // A flat kernel binds an arena: it reads every member.
    for (const b of uses) if (b !== null) for (const m of members(b)) read.add(m);
    keep.push(c);
  }
  return keep.reverse();
}

/**
 * Recordings whose owner tensors lag their arenas (flat-update.ts). A replay leaves the state's current
 * values in its arenas, where the next replay reads them; the owner's tensors (the ParamStore's, the
 * optimiser's) get them only when something else may use them: a tfjs kernel, read or dispose, another
 * recording's capture or replay (`hookOwnerReads`). A training loop that only replays copies nothing.
 */
const lagging = new Set<ReplayedStep>();

/** Brings the owner tensors of the lagging recordings that `which` selects up to date, in one submit. */
function catchUp(be: WebGpuBackendLike, which: (r: ReplayedStep) => boolean = () => true): void {
  if (lagging.size === 0) return;
  const behind = [...lagging].filter(which);
  if (behind.length === 0) return;
  const enc = be.device.createCommandEncoder();
  for (const r of behind) {
    r.encodeOwnerCopies(enc);
    lagging.delete(r);
  }
  be.queue.submit([enc.finish()]);
}

function encodeCopies(enc: GPUCommandEncoder, copies: readonly Copy[]): void {
  for (const c of copies) enc.copyBufferToBuffer(c.src, c.srcOffset, c.dst, c.dstOffset, c.size);
}

const hooked = new WeakSet<object>();

/**
 * Every tfjs entry point that may use a tensor's buffer (a kernel, a read, a dispose that gives the buffer
 * back to its pool) first brings the lagging owners up to date. tfjs submits its own commands later, so
 * the copies run before them. Installed once per backend, before a capture saves the methods it swaps.
 */
function hookOwnerReads(be: WebGpuBackendLike): void {
  if (hooked.has(be)) return;
  hooked.add(be);
  const methods = be as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of ['runWebGPUProgram', 'read', 'readSync', 'readToGPU', 'disposeData']) {
    const f = methods[name];
    if (typeof f !== 'function') throw new Error(`captured step: tfjs-backend-webgpu has no ${name} (version change?)`);
    methods[name] = function (this: unknown, ...args: unknown[]) {
      catchUp(be);
      return f.apply(this, args);
    };
  }
}

/**
 * A state tensor updated in place (flat-update.ts) has its old value in its region only until the flat
 * kernel runs: no command after it may read the old tensor, nor a view of it.
 */
function checkInPlace(log: readonly Recorded[], flat: FlatRecorder): void {
  const lastUse = new Map<GPUBuffer, number>();
  log.forEach((c, at) => {
    // A view (the blocks of a split weight) reads its source.
    for (const b of buffersOf(c)) if (b !== null) lastUse.set(flat.viewOf(b)?.source ?? b, at);
  });
  for (const { before, writer } of flat.pairs) {
    if ((lastUse.get(before) ?? -1) > log.indexOf(writer)) throw new Error('captured step: a command reads the old value of a state tensor after its in-place update');
  }
}

/** A kernel writes its first binding; WebGPU cannot bind that buffer again in the same dispatch (an arena shared by two of its tensors). */
function checkBindings(entries: readonly GPUBindGroupEntry[], kernel: string): void {
  const out = entries.length > 0 ? entryBuffer(entries[0]) : null;
  if (out !== null && entries.slice(1).some((e) => entryBuffer(e) === out)) throw new Error(`captured step: kernel ${kernel} writes a buffer it also reads`);
}

function releaseFreeBuffers(main: BufferManagerLike): void {
  if (main.freeBuffers === undefined) return;
  for (const list of main.freeBuffers.values()) {
    for (const b of list) {
      main.numBytesAllocated -= b.size;
      b.destroy();
    }
    list.length = 0;
  }
  main.numFreeBuffers = 0;
}

function adoptInto(main: BufferManagerLike, b: GPUBuffer, pool: CapturePool): void {
  if (!pool.owned.has(b)) return;
  const key = `${b.size}_${b.usage}`;
  const list = main.usedBuffers.get(key) ?? [];
  list.push(b);
  main.usedBuffers.set(key, list);
  main.numBytesUsed += b.size;
  main.numBytesAllocated += b.size;
  pool.owned.delete(b);
}

function forget(main: BufferManagerLike, b: GPUBuffer): void {
  const list = main.usedBuffers.get(`${b.size}_${b.usage}`);
  const i = list?.indexOf(b) ?? -1;
  if (list && i >= 0) {
    list.splice(i, 1);
    main.numBytesUsed -= b.size;
    main.numBytesAllocated -= b.size;
  }
}

