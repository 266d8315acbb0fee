/**
 * Memory plan for a recorded step (src/tensor/replay.ts).
 *
 * Why: during a capture tfjs reuses a freed buffer only for a tensor of the
 * exact same byte size, and only once it has submitted the commands that used
 * it, so a recorded step kept far more memory than its live tensors need (the
 * paper's DiT at B=2048 held 84 GB on the H200 against PyTorch's 12). A
 * capture now gives each tensor a placeholder; once the step is recorded,
 * each tensor is a logical buffer with the interval of commands [first, last]
 * that use it, and logical buffers whose intervals do not overlap can share
 * one physical buffer whatever their sizes.
 *
 * The assignment is greedy by size (largest first, each into the smallest
 * physical buffer of its usage that is free over its whole interval, else a
 * new one), the heuristic TFLite's arena planner uses; it is deterministic.
 */

/** A tensor's stay in a buffer: its byte size, GPU usage flags and the first and last command that use it. */
export interface LogicalBuffer {
  size: number;
  usage: number;
  first: number;
  last: number;
}

export interface BufferPlan {
  /** Byte size and usage of each physical buffer. */
  physical: { size: number; usage: number }[];
  /** For each logical buffer, the index of its physical buffer. */
  assign: number[];
}

export function planBuffers(logical: readonly LogicalBuffer[]): BufferPlan {
  const order = logical.map((_, i) => i).sort((a, b) => logical[b].size - logical[a].size || logical[a].first - logical[b].first || a - b);
  const physical: { size: number; usage: number; intervals: [number, number][] }[] = [];
  const assign = new Array<number>(logical.length).fill(-1);
  for (const i of order) {
    const { size, usage, first, last } = logical[i];
    if (first > last) throw new RangeError(`buffer plan: logical buffer ${i} has first use ${first} after last use ${last}`);
    let best = -1;
    for (let p = 0; p < physical.length; p++) {
      const ph = physical[p];
      if (ph.usage !== usage || ph.size < size) continue;
      if (best >= 0 && physical[best].size <= ph.size) continue;
      if (ph.intervals.every(([f, l]) => l < first || f > last)) best = p;
    }
    if (best < 0) {
      best = physical.length;
      physical.push({ size, usage, intervals: [] });
    }
    physical[best].intervals.push([first, last]);
    assign[i] = best;
  }
  return { physical: physical.map(({ size, usage }) => ({ size, usage })), assign };
}
