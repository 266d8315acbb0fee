/**
 * GPU time per kernel of a replayed step (`CapturedStep.profile`), from
 * WebGPU timestamp queries: each dispatch gets a compute pass of its own
 * whose start and end the GPU stamps. Passes run one after another, so a
 * profile shows what each kernel costs alone (the sum is an upper bound of
 * the step's GPU time: a normal replay overlaps nothing either, but needs
 * no pass boundaries). This is what tells, on the GPU machine, which
 * kernels a step's time goes to (BENCHMARKS.md).
 */
import { COPY_DST, COPY_SRC, MAP_READ, QUERY_RESOLVE } from './gpu-usage.js';

/**
 * One dispatch of a replayed step, as recorded: its kernel's name, the workgroups and threads it
 * launches, and the bytes of the storage buffers it binds (its output, and its inputs together).
 */
export interface DispatchShape {
  kernel: string;
  workgroups: number;
  threads: number;
  bytesWritten: number;
  bytesRead: number;
}

/**
 * One kind of kernel in a profile: tfjs's or pita's shader name, how often it ran, its GPU time, and over
 * its dispatches the bytes bound (written + read) and the fewest threads one launched (a GPU needs tens of
 * thousands in flight to reach its memory bandwidth: fewer say the kernel is latency-bound).
 */
export interface KernelTime {
  kernel: string;
  count: number;
  ms: number;
  bytes: number;
  minThreads: number;
}

/** A profiled run: the outputs (it is a real step), its kernels by GPU time, largest first, and each dispatch in order. */
export interface StepProfile {
  outputs: Float32Array[];
  kernels: KernelTime[];
  /** Σ of the kernels' GPU time, milliseconds. */
  totalMs: number;
  /** Every dispatch in the order the step runs them, with its GPU time (for a closer look than by kernel name). */
  dispatches: (DispatchShape & { ms: number })[];
}

/** WebGPU's limit of queries per query set (two per dispatch). */
const QUERIES_PER_SET = 4096;

/** The timestamp writes of n dispatches, resolved into one mappable buffer. */
export class DispatchTimer {
  private readonly sets: GPUQuerySet[] = [];
  private readonly resolved: GPUBuffer;
  private readonly readBuffer: GPUBuffer;

  constructor(
    private readonly device: GPUDevice,
    private readonly n: number,
  ) {
    for (let q = 0; q < 2 * n; q += QUERIES_PER_SET) {
      this.sets.push(device.createQuerySet({ type: 'timestamp', count: Math.min(QUERIES_PER_SET, 2 * n - q) }));
    }
    const bytes = Math.max(8, 16 * n);
    this.resolved = device.createBuffer({ size: bytes, usage: QUERY_RESOLVE | COPY_SRC });
    this.readBuffer = device.createBuffer({ size: bytes, usage: MAP_READ | COPY_DST });
  }

  /** The pass descriptor of dispatch j (0 ≤ j < n). */
  pass(j: number): GPUComputePassDescriptor {
    const q = 2 * j;
    const set = this.sets[Math.floor(q / QUERIES_PER_SET)];
    const i = q % QUERIES_PER_SET;
    return { timestampWrites: { querySet: set, beginningOfPassWriteIndex: i, endOfPassWriteIndex: i + 1 } };
  }

  /** Encodes the resolve of every stamp (after the last pass). */
  resolve(enc: GPUCommandEncoder): void {
    this.sets.forEach((s, k) => enc.resolveQuerySet(s, 0, s.count, this.resolved, k * QUERIES_PER_SET * 8));
    enc.copyBufferToBuffer(this.resolved, 0, this.readBuffer, 0, this.resolved.size);
  }

  /** Each dispatch's GPU time in nanoseconds (after the resolve was submitted); frees the queries. */
  async durations(): Promise<number[]> {
    await this.readBuffer.mapAsync(MAP_READ);
    try {
      const t = new BigUint64Array(this.readBuffer.getMappedRange(), 0, 2 * this.n);
      // A stamp pair out of order (some drivers reset the counter) counts as 0, not as a huge number.
      return Array.from({ length: this.n }, (_, j) => (t[2 * j + 1] >= t[2 * j] ? Number(t[2 * j + 1] - t[2 * j]) : 0));
    } finally {
      this.readBuffer.unmap();
      for (const s of this.sets) s.destroy();
      this.resolved.destroy();
      this.readBuffer.destroy();
    }
  }
}

/** Groups per-dispatch times (ns) by kernel name, largest total first. */
export function kernelTimes(
  shapes: readonly DispatchShape[],
  ns: readonly number[],
): { kernels: KernelTime[]; totalMs: number; dispatches: StepProfile['dispatches'] } {
  const by = new Map<string, KernelTime>();
  shapes.forEach((d, j) => {
    const k = by.get(d.kernel) ?? { kernel: d.kernel, count: 0, ms: 0, bytes: 0, minThreads: Infinity };
    k.count++;
    k.ms += ns[j] / 1e6;
    k.bytes += d.bytesWritten + d.bytesRead;
    k.minThreads = Math.min(k.minThreads, d.threads);
    by.set(d.kernel, k);
  });
  const kernels = [...by.values()].sort((a, b) => b.ms - a.ms);
  const dispatches = shapes.map((d, j) => ({ ...d, ms: ns[j] / 1e6 }));
  return { kernels, totalMs: kernels.reduce((s, k) => s + k.ms, 0), dispatches };
}

/**
 * A readable name for a tfjs pipeline cache key: its first three '_'-separated parts (the program and
 * its variant, e.g. 'binary_17_4,4' or 'matMulPacked_4,4,1_false'), cut before the first part that
 * spells out shapes and dtypes ('pad_64,1,12,2float32,…' → 'pad'), and at most 100 characters.
 */
export function kernelName(key: string): string {
  const parts = key.split('_').slice(0, 3);
  const cut = parts.findIndex((p, i) => i > 0 && /float32|int32|bool/.test(p));
  const name = (cut > 0 ? parts.slice(0, cut) : parts).join('_');
  // A fused expression (pita_fused_…) names itself in full; long ones are cut.
  return name.length > 100 ? `${name.slice(0, 99)}…` : name;
}
