/**
 * The sample sets a report plots: each rung's samples and the reference at
 * T_K, with non-finite rows dropped and at most `maxPoints` rows kept (a
 * seeded subsample, so reports are reproducible).
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { UserError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { readNpyFloat64 } from '../io/npy.js';
import { subsampleRows } from '../metrics/evaluate.js';
import type { Target } from '../targets/target.js';
import type { RunDirectory } from '../rundir/reader.js';

/** Samples of one set: rows [n, dim] after subsampling, and how many rows the file had. */
export interface SampleSet {
  x: Float64Array;
  n: number;
  total: number;
  dropped: number;
}

export interface ReferenceSet extends SampleSet {
  source: string;
  /** The whole reference (TICA needs the time-ordered trajectory). */
  full: { x: Float64Array; n: number };
}

/** Drops rows with NaN or Inf, then takes at most m rows with a seeded permutation. */
export function prepare(x: Float64Array, total: number, dim: number, m: number, rng: Rng): SampleSet {
  const keep: number[] = [];
  for (let i = 0; i < total; i++) {
    let ok = true;
    for (let j = 0; j < dim && ok; j++) ok = Number.isFinite(x[i * dim + j]);
    if (ok) keep.push(i);
  }
  const finite = keep.length === total ? x : new Float64Array(keep.length * dim);
  if (finite !== x) keep.forEach((r, i) => finite.set(x.subarray(r * dim, (r + 1) * dim), i * dim));
  const n = Math.min(m, keep.length);
  return { x: Float64Array.from(subsampleRows(finite, keep.length, dim, n, rng)), n, total, dropped: total - keep.length };
}

export function loadRungSamples(run: RunDirectory, target: Target, maxPoints: number, seed: number): SampleSet[] {
  return run.samples.map((s) => {
    const r = readNpyFloat64(s.path, { cols: target.dim, what: `target ${target.name}` });
    return prepare(r.data, r.shape[0], target.dim, maxPoints, new Rng(seed).fork(`rung-${s.rung}`));
  });
}

/**
 * The reference samples at T_K: samples/reference.npy when the run saved
 * one, else evaluation.reference when it is a file (relative paths are
 * tried from the working directory, then from the run directory). Reports
 * a notice and returns null when there is none.
 */
export function loadReference(run: RunDirectory, target: Target, maxPoints: number, seed: number, notice: (kind: 'info' | 'warn', text: string) => void): ReferenceSet | null {
  const saved = join(run.dir, 'samples', 'reference.npy');
  const configured = run.config?.evaluation.reference;
  let path: string | null = null;
  if (existsSync(saved)) path = saved;
  else if (configured && configured !== 'generate') {
    const candidates = isAbsolute(configured) ? [configured] : [resolve(configured), resolve(run.dir, configured)];
    path = candidates.find((p) => existsSync(p)) ?? null;
    if (!path) {
      notice('warn', `No reference: evaluation.reference ${configured} was not found (tried ${candidates.join(', ')}).`);
      return null;
    }
  } else {
    notice(
      'info',
      configured === 'generate'
        ? 'No reference samples saved: the run generated its reference in memory (evaluation.reference: generate), so histograms show the samples alone.'
        : 'No reference: the run has no evaluation.reference, so histograms show the samples alone.',
    );
    return null;
  }
  let r: { data: Float64Array; shape: number[] };
  try {
    r = readNpyFloat64(path, { cols: target.dim, what: `target ${target.name}` });
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    notice('warn', `No reference: ${e.message}.`);
    return null;
  }
  const set = prepare(r.data, r.shape[0], target.dim, maxPoints, new Rng(seed).fork('reference'));
  return { ...set, source: path, full: { x: r.data, n: r.shape[0] } };
}
