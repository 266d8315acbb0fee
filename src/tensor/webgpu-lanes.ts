/**
 * Reductions along the contiguous last axis on WebGPU, shared by a row's lanes (docs/tensor-engine.md §2.24).
 *
 * Why: with one thread per row (a LayerNorm row of the DiT's 192 numbers, a softmax row, a sum over the
 * last axis), neighbouring threads read numbers a whole row apart, so each load of a warp touches as many
 * cache lines as it has threads, and a long row is a serial loop on few threads. Here `lanes` neighbouring
 * threads share a row: lane ℓ reads positions ℓ, ℓ + lanes, … (neighbouring lanes, neighbouring numbers),
 * and the lanes' partial results meet in a fixed tree in workgroup memory, so a result does not depend on
 * the launch. A workgroup of `LANE_GROUP` threads holds `LANE_GROUP / lanes` rows.
 */

/**
 * Outputs from which a sum on WebGPU is one pass of one thread (or one row's lanes) per output: fewer
 * outputs leave the GPU idle, so their sums take chunked passes or a workgroup's tree (webgpu-kernels.ts).
 */
export const SUM_ENOUGH_OUTPUTS = 4096;

/** Threads per workgroup of a lane program. */
export const LANE_GROUP = 64;
/** The most lanes that share one row. */
const MAX_LANES = 32;

/**
 * Lanes for rows of n positions: the power of two ≥ n, at most 32. `PITA_LANES=0` gives every row one
 * thread, as before lanes (to compare the two on a device).
 */
export function lanesFor(n: number): number {
  if (process.env.PITA_LANES === '0') return 1;
  let lanes = 1;
  while (lanes < n && lanes < MAX_LANES) lanes *= 2;
  return lanes;
}

/**
 * WGSL of `laneSum(v)` and `laneMax(v)`: the sum (maximum) of v over the calling row's lanes, returned to
 * every lane. Every thread of the workgroup must call them, the same number of times (barriers), so
 * callers guard their loads with a flag rather than return early. `group`: the workgroup's threads, a
 * multiple of `lanes` (more than LANE_GROUP where one row takes a larger workgroup, as a sum's tree does).
 */
export function laneReductions(lanes: number, group = LANE_GROUP): string {
  const reduce = (name: string, combine: (a: string, b: string) => string): string => `
fn ${name}(v : f32) -> f32 {
  let l = localId.x;
  pitaLanes[l] = v;
  workgroupBarrier();
  for (var s = ${Math.floor(lanes / 2)}u; s > 0u; s = s >> 1u) {
    if (l % ${lanes}u < s) { pitaLanes[l] = ${combine(`pitaLanes[l]`, `pitaLanes[l + s]`)}; }
    workgroupBarrier();
  }
  let r = pitaLanes[l - l % ${lanes}u];
  workgroupBarrier();
  return r;
}`;
  return `var<workgroup> pitaLanes : array<f32, ${group}>;
${reduce('laneSum', (a, b) => `${a} + ${b}`)}
${reduce('laneMax', (a, b) => `max(${a}, ${b})`)}`;
}
