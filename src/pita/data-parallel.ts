/**
 * The trainer's worker threads (issue 13, items 2 and 3): tfjs on wasm runs
 * one thread per engine, so without them a run uses one core. Each worker
 * holds its own engine and its own copy of both networks (rebuilt from a
 * serialisable `NetworkRecipe`), and does two kinds of work on rows the
 * main thread splits into W contiguous slices, one per worker:
 *
 * - Training: the loss terms and parameter gradients of a slice of a packed
 *   loss batch (`NetworkWorkers.gradients`). The packed rows carry their own
 *   weights, already normalised by the WHOLE batch (λ(σ)/B, 1/|S|, …; see
 *   prepareLossBatch), so a slice's losses are its additive shares of the
 *   full-batch losses, exactly as a micro-batch's are
 *   (tensor/microbatch.ts). Micro-batching still applies inside each
 *   worker. The host sums the slices' float32 gradients in worker order, so
 *   the result differs from the one-thread path only by float32 rounding
 *   (the summation is grouped differently), and the same seed and worker
 *   count give the same bits. Only the gradients run in the workers;
 *   clipping, Adam and the EMA run on the host in flat arrays
 *   (host-optimizer.ts), whose parameters are sent with every step.
 *
 * - Annealing: the annealing field of the networks (`neuralField`) with the
 *   EMA parameters, sent once per rung (`NetworkWorkers.annealField`); each
 *   evaluation's rows (one chunk of the annealer) are split across the
 *   workers. This is bit-identical to the one-thread field for any worker
 *   count: nothing is summed across rows, every worker runs the same wasm
 *   kernels as the main thread's engine, the Hutchinson probes are drawn on
 *   the main thread from the rows' own streams and sent with the rows, and
 *   the networks compute every row on its own: a row's outputs do not depend
 *   on which other rows share its batch (measured bit for bit for the EGNN,
 *   the MLP and the DiT on tfjs-wasm, batches of 1 to 300 rows split
 *   anywhere; test/pita/anneal-workers.test.ts keeps checking it).
 *
 * Annealing and training never overlap, so both use the same networks in a
 * worker: a gradient pass loads the raw parameters and forgets the field,
 * whose calls then fail rather than use the wrong parameters.
 */
import { NonFiniteError, UserError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { lossesAndGrads, packedWidth, type LossWeights } from '../diffusion/losses.js';
import { createNetwork, type NetworkGeometry, type NetworkKind } from '../nets/index.js';
import type { Network } from '../nets/types.js';
import { moduleNextTo, splitRange, type JobContext, WorkerError, WorkerPool } from '../parallel/pool.js';
import * as T from '../tensor/index.js';
import { EdmSchedule, type EdmScheduleOptions } from '../diffusion/schedule.js';
import type { AnnealField, DriftValues, FieldValues, RowStreams } from './anneal.js';
import { neuralField, rademacherProbes, type NeuralField } from './neural-field.js';

/** What a worker needs to rebuild a network: its kind, resolved config and data geometry (all serialisable). */
export interface NetworkRecipe {
  kind: NetworkKind;
  config: Record<string, unknown>;
  geometry: NetworkGeometry;
  /** The host network's parameter names and shapes, in store order (the rebuilt one must match). */
  shapes: Array<[string, number[]]>;
}

/** The recipe of a built network; `geometry` as the trainer knows it (the network itself records only its config). */
export function networkRecipe(net: Network, geometry: NetworkGeometry): NetworkRecipe {
  return {
    kind: net.kind,
    config: { ...net.config },
    geometry,
    shapes: net.params.names().map((n) => [n, net.params.shape(n)]),
  };
}

/** The summed result of one data-parallel gradient pass, on the host. */
export interface SummedGradients {
  /** [L_S, L_TSM, L_ES, L_EM] of the whole batch. */
  terms: Float32Array;
  /** Every gradient of the score network then the energy network, flat in store order (zeros where null). */
  grads: Float32Array;
  /** Per parameter (same order): whether no slice's loss depends on it (the optimiser skips those). */
  isNull: boolean[];
}

interface StartChunk {
  score: NetworkRecipe;
  energy: NetworkRecipe;
}

interface SliceChunk {
  /** Both networks' parameters, flat: score then energy, store order. */
  params: Float32Array;
  rows: number;
  dim: number;
  conditioned: boolean;
  /** The slice's packed rows [rows, packedWidth(dim)]. */
  data: Float32Array;
  microBatchSize: number;
  weights: LossWeights;
}

interface SliceResult {
  terms: Float32Array;
  grads: Float32Array;
  isNull: boolean[];
}

/** How the annealing field is computed (all serialisable; the networks are the workers' own). */
export interface FieldSettings {
  schedule: Required<EdmScheduleOptions>;
  /** Conditioning β of the rung (null: unconditioned networks). */
  beta: number | null;
  divergence: 'exact' | 'hutchinson';
  probes: number;
}

interface LoadFieldChunk {
  /** Names this parameter set; evaluations carry it, so a worker never evaluates with other parameters. */
  token: number;
  params: Float32Array;
  settings: FieldSettings;
}

type FieldPass = 'evaluate' | 'drift' | 'energy';

interface FieldSliceChunk {
  token: number;
  pass: FieldPass;
  x: Float64Array;
  m: number;
  t: number;
  /** The slice's Hutchinson probes, drawn by the main thread ('evaluate' only; none for the exact divergence). */
  probes: Float64Array[];
}

/** A pool of network workers for one trainer: start it once, then call `gradients` every step and `annealField` once per rung. */
export class NetworkWorkers {
  private readonly pool: WorkerPool;
  private started: Promise<unknown> | null = null;
  private fieldToken = 0;

  /**
   * `size` workers (≥ 2 to be useful) for networks built from these recipes.
   * `jobs` is the module holding the worker jobs (default this one; tests
   * pass a wrapper that injects faults).
   */
  constructor(
    readonly size: number,
    private readonly recipes: StartChunk,
    private readonly jobs = moduleNextTo(import.meta.url, 'data-parallel'),
  ) {
    this.pool = new WorkerPool(size);
  }

  private start(): Promise<unknown> {
    this.started ??= this.pool.run(this.jobs, 'startNetworkWorker', Array.from({ length: this.size }, () => this.recipes));
    return this.started;
  }

  /**
   * The loss terms and gradients of the packed batch `data` ([rows, 3D+8]),
   * summed over the workers' slices in worker order, with the networks'
   * current parameters `params` (score then energy, flat). Rejects with the
   * pool's one-line WorkerError if a worker fails; the pool is then closed.
   */
  async gradients(params: Float32Array, batch: { rows: number; dim: number; conditioned: boolean; data: Float32Array }, microBatchSize: number, weights: LossWeights): Promise<SummedGradients> {
    await this.start();
    const W = packedWidth(batch.dim);
    const slices = splitRange(batch.rows, this.size);
    // .slice, not .subarray: a structured clone copies a view's whole buffer.
    const chunks: SliceChunk[] = slices.map(([from, to]) => ({
      params,
      rows: to - from,
      dim: batch.dim,
      conditioned: batch.conditioned,
      data: batch.data.slice(from * W, to * W),
      microBatchSize,
      weights,
    }));
    const results = await this.pool.run<SliceChunk, SliceResult>(this.jobs, 'sliceGradients', chunks);
    return sumInOrder(results);
  }

  /**
   * The annealing field of the networks with parameters `params` (score then
   * energy, flat: the EMA ones for annealing), computed in the workers: the
   * parameters are sent here, once; every call then splits its rows into
   * contiguous slices, one per worker (fewer when there are fewer rows),
   * draws the slice's Hutchinson probes here from the rows' streams, and
   * joins the slices' values in row order. The values are those of
   * `neuralField` in this thread, bit for bit (module comment). Valid until
   * the next `gradients` or `annealField`; a worker's failure rejects a call
   * with the pool's one-line WorkerError and closes the pool.
   */
  async annealField(params: Float32Array, settings: FieldSettings): Promise<Required<Omit<AnnealField, 'dispose'>>> {
    await this.start();
    const token = ++this.fieldToken;
    await this.pool.run<LoadFieldChunk, null>(this.jobs, 'loadField', Array.from({ length: this.size }, () => ({ token, params, settings })));
    const probes = settings.divergence === 'hutchinson' ? settings.probes : 0;
    const pass = async <R extends object>(pass: FieldPass, x: Float64Array, m: number, t: number, rows: RowStreams | null): Promise<R> => {
      const D = x.length / m;
      const z = rows ? rademacherProbes(rows, m, D, probes) : [];
      const chunks: FieldSliceChunk[] = splitRange(m, Math.min(this.size, m)).map(([from, to]) => ({
        token,
        pass,
        x: x.slice(from * D, to * D),
        m: to - from,
        t,
        probes: z.map((zp) => zp.slice(from * D, to * D)),
      }));
      return joinRows(await this.pool.run<FieldSliceChunk, Record<string, Float64Array>>(this.jobs, 'fieldSlice', chunks)) as R;
    };
    return {
      evaluate: (x, m, t, rows) => pass<FieldValues>('evaluate', x, m, t, rows),
      drift: (x, m, t) => pass<DriftValues>('drift', x, m, t, null),
      energy: (x, m, t) => pass<Pick<DriftValues, 'energy' | 'gradEnergy'>>('energy', x, m, t, null),
    };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** The slices' per-row arrays, each joined in slice order. */
function joinRows(parts: readonly Record<string, Float64Array>[]): Record<string, Float64Array> {
  const out: Record<string, Float64Array> = {};
  for (const key of Object.keys(parts[0])) {
    const joined = new Float64Array(parts.reduce((n, p) => n + p[key].length, 0));
    parts.reduce((offset, p) => (joined.set(p[key], offset), offset + p[key].length), 0);
    out[key] = joined;
  }
  return out;
}

/**
 * A worker's failure as the error the CLI reports for that kind (a user
 * error, a non-finite value, an exhausted tensor heap: the message says what
 * to change), still one line naming the worker; anything else stays a
 * WorkerError.
 */
export function workerFailure(e: unknown): unknown {
  if (!(e instanceof WorkerError)) return e;
  if (e.errorName === 'UserError') return new UserError(e.message);
  if (e.errorName === 'NonFiniteError') return new NonFiniteError(e.message);
  if (e.errorName === 'WasmHeapError') return new T.WasmHeapError(e.message);
  return e;
}

/**
 * Σ over the slices, in slice order, in float32 (each `+=` rounds to float32,
 * as a float32 add on the device does). A parameter is null only if it is
 * null in every slice, as in the micro-batch accumulation.
 */
export function sumInOrder(results: readonly SliceResult[]): SummedGradients {
  const terms = Float32Array.from(results[0].terms);
  const grads = Float32Array.from(results[0].grads);
  const isNull = [...results[0].isNull];
  for (const r of results.slice(1)) {
    for (let i = 0; i < terms.length; i++) terms[i] += r.terms[i];
    for (let i = 0; i < grads.length; i++) grads[i] += r.grads[i];
    r.isNull.forEach((n, i) => (isNull[i] &&= n));
  }
  return { terms, grads, isNull };
}

// ---------------------------------------------------------------- worker jobs

interface WorkerNets {
  score: Network;
  energy: Network;
}

function workerNets(ctx: JobContext, job: string): WorkerNets {
  const nets = ctx.state.get('nets') as WorkerNets | undefined;
  if (!nets) throw new Error(`${job} before startNetworkWorker`);
  return nets;
}

function rebuild(which: string, r: NetworkRecipe): Network {
  // The values are overwritten before every pass; only the architecture matters.
  const net = createNetwork(r.kind, r.config, r.geometry, new Rng(0));
  const got = net.params.names().map((n) => `${n}[${net.params.shape(n).join(',')}]`);
  const want = r.shapes.map(([n, s]) => `${n}[${s.join(',')}]`);
  if (got.join(' ') !== want.join(' ')) {
    throw new Error(`the ${which} network rebuilt from its config ${JSON.stringify(r.config)} has other parameters than the trainer's`);
  }
  return net;
}

/** Worker job: starts this worker's CPU engine and builds its copies of both networks. */
export async function startNetworkWorker(chunk: StartChunk, ctx: JobContext): Promise<null> {
  // Workers exist for the CPU path only: each runs its own single-threaded wasm engine.
  await T.initTensorBackend('cpu');
  ctx.state.set('nets', { score: rebuild('score', chunk.score), energy: rebuild('energy', chunk.energy) } satisfies WorkerNets);
  return null;
}

/** Copies flat values (store order, from `offset`) into a store's parameters; returns the offset after them. */
function loadParams(net: Network, flat: Float32Array, offset: number): number {
  for (const name of net.params.names()) {
    const n = net.params.shape(name).reduce((a, b) => a * b, 1);
    net.params.set(name, flat.slice(offset, offset + n));
    offset += n;
  }
  return offset;
}

/** Worker job: the loss terms and parameter gradients of one slice of a packed batch (additive shares of the full batch's). */
export async function sliceGradients(chunk: SliceChunk, ctx: JobContext): Promise<SliceResult> {
  const nets = workerNets(ctx, 'sliceGradients');
  // The raw parameters replace the field's (annealing and training never overlap).
  ctx.state.delete('field');
  loadParams(nets.energy, chunk.params, loadParams(nets.score, chunk.params, 0));
  const out = T.scope(() => {
    const data = T.fromF32(chunk.data, [chunk.rows, packedWidth(chunk.dim)]);
    const r = lossesAndGrads(nets.score, nets.energy, { rows: chunk.rows, dim: chunk.dim, conditioned: chunk.conditioned, data }, chunk.weights, chunk.microBatchSize);
    return { terms: r.terms, grads: [...r.scoreGrads.values(), ...r.energyGrads.values()] };
  });
  try {
    const shapes = [...nets.score.params.names().map((n) => nets.score.params.shape(n)), ...nets.energy.params.names().map((n) => nets.energy.params.shape(n))];
    const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
    const grads = new Float32Array(sizes.reduce((a, b) => a + b, 0));
    const values = await Promise.all(out.grads.map((g) => (g === null ? null : T.read(g))));
    let offset = 0;
    values.forEach((v, i) => {
      if (v !== null) grads.set(v, offset);
      offset += sizes[i];
    });
    return { terms: await T.read(out.terms), grads, isNull: values.map((v) => v === null) };
  } finally {
    T.dispose([out.terms, ...out.grads]);
  }
}

/** Worker job: loads a field's parameters (score then energy, flat) into this worker's networks and builds the field on them. */
export function loadField(chunk: LoadFieldChunk, ctx: JobContext): null {
  const nets = workerNets(ctx, 'loadField');
  loadParams(nets.energy, chunk.params, loadParams(nets.score, chunk.params, 0));
  const { schedule, beta, divergence, probes } = chunk.settings;
  const field = neuralField({ scoreNet: nets.score.apply, energyNet: nets.energy.apply, schedule: new EdmSchedule(schedule), beta, divergence, probes });
  ctx.state.set('field', { token: chunk.token, field });
  return null;
}

/** Worker job: one slice of a field evaluation, with the probes the main thread drew for its rows. */
export async function fieldSlice(chunk: FieldSliceChunk, ctx: JobContext): Promise<FieldValues | DriftValues | Pick<DriftValues, 'energy' | 'gradEnergy'>> {
  const held = ctx.state.get('field') as { token: number; field: NeuralField } | undefined;
  if (held?.token !== chunk.token) throw new Error('fieldSlice: this worker no longer holds the parameters of that field');
  const { pass, x, m, t } = chunk;
  if (pass === 'evaluate') return held.field.evaluateWithProbes(x, m, t, chunk.probes);
  return pass === 'drift' ? held.field.drift(x, m, t) : held.field.energy(x, m, t);
}
