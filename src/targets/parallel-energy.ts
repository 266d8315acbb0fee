/**
 * Batch energy (and force) evaluation split across worker threads (issue 13,
 * item 4): rows 0..n−1 in contiguous slices, one per worker, each worker
 * with its own copy of the target built from a TargetSpec. A row's energy
 * does not depend on the other rows of its batch (every target evaluates
 * rows one by one in float64), so the result is bit-identical for any worker
 * count. The workers' evaluations are added to `target`'s counter.
 */
import { moduleNextTo, splitRange, WorkerPool, type JobContext } from '../parallel/pool.js';
import { targetFromSpec, type TargetSpec } from './spec.js';
import type { Target } from './target.js';

interface Slice {
  spec: TargetSpec;
  x: Float64Array;
  rows: number;
  forces: boolean;
}

interface SliceResult {
  energy: Float64Array;
  forces: Float64Array | null;
}

/** Energies [n] (and forces [n, dim] with `withForces`) of the rows of `x`, on `workers` threads (1: this thread, on `target`). */
export async function energiesInWorkers(spec: TargetSpec, target: Target, x: Float64Array, n: number, withForces: boolean, workers: number): Promise<{ energy: Float64Array; forces: Float64Array | null }> {
  const D = target.dim;
  const slices = splitRange(n, Math.max(1, Math.min(workers, n)));
  if (slices.length <= 1) return withForces ? target.energyAndForces(x, n) : { energy: target.energy(x, n), forces: null };
  const pool = new WorkerPool(slices.length);
  try {
    // .slice, not .subarray: a structured clone copies a view's whole buffer.
    const chunks: Slice[] = slices.map(([from, to]) => ({ spec, x: x.slice(from * D, to * D), rows: to - from, forces: withForces }));
    const parts = await pool.run<Slice, SliceResult>(moduleNextTo(import.meta.url, 'parallel-energy'), 'sliceEnergies', chunks);
    const energy = new Float64Array(n);
    const forces = withForces ? new Float64Array(n * D) : null;
    parts.forEach((p, i) => {
      const [from] = slices[i];
      energy.set(p.energy, from);
      if (forces && p.forces) forces.set(p.forces, from * D);
    });
    target.counter.add(n);
    return { energy, forces };
  } finally {
    await pool.close();
  }
}

/** Worker job: the energies (and forces) of one slice of rows. */
export function sliceEnergies(chunk: Slice, _ctx: JobContext): SliceResult {
  const t = targetFromSpec(chunk.spec);
  return chunk.forces ? t.energyAndForces(chunk.x, chunk.rows) : { energy: t.energy(chunk.x, chunk.rows), forces: null };
}
