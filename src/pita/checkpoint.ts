/**
 * Trainer checkpoints: one safetensors file, written atomically, holding
 *
 *   score/param/<name>, energy/param/<name>     network parameters (F32)
 *   score/ema/<name>,   energy/ema/<name>       EMA shadows (F32)
 *   score/adam_m/<name>, score/adam_v/<name>,   Adam moments (F32; only parameters
 *   energy/adam_m/<name>, energy/adam_v/<name>   that have had a gradient)
 *   buffer/<k>/x, buffer/<k>/logp, buffer/<k>/force   optional replay buffers (F64)
 *
 * and, in the header's __metadata__ under "pita.trainer", a JSON document with
 * the trainer config, the step, the training Rng state, per-parameter Adam step
 * counts, the EMA decay and update counts, the network kinds and configs, and
 * the buffers' ring positions. Every float is stored exactly, so loading
 * resumes training bit for bit.
 *
 * Annealing checkpoints (a rung's annealing stopped part way) are a second
 * safetensors file, written atomically too:
 *
 *   x, logWeights                                     the particles and their log-weights (F64)
 *   drift/energy, drift/gradEnergy, drift/score       discrete weighting's drift at x (F64; absent for continuous)
 *
 * with "pita.anneal" in the metadata: the rung, the next step, the
 * rejuvenation step factor, the resampling count, the step logs so far and
 * the seconds spent. With the run's seed (the step streams derive from the
 * step index) that is all `anneal` needs to go on bit for bit.
 */
import { UserError } from '../core/errors.js';
import type { RngState } from '../core/rng.js';
import type { Network } from '../nets/types.js';
import type { AnnealState, AnnealStepLog } from './anneal.js';
import { type SafeTensor, loadSafetensors, saveSafetensors } from '../tensor/index.js';
import { type BufferState, ReplayBuffer } from './buffer.js';
import { type NetworkFactory, type NetworkState, Trainer, type TrainerConfig, type TrainerOptions, type TrainerState } from './trainer.js';

const FORMAT = 'pita-trainer-checkpoint';
const VERSION = 1;
const META_KEY = 'pita.trainer';

interface NetworkMeta {
  kind: Network['kind'];
  config: Readonly<Record<string, unknown>>;
  shapes: Record<string, number[]>;
  adamSteps: Record<string, number>;
  emaDecay: number;
  emaUpdates: number;
}

interface CheckpointMeta {
  format: typeof FORMAT;
  version: number;
  step: number;
  config: TrainerConfig;
  rng: RngState;
  score: NetworkMeta;
  energy: NetworkMeta;
  buffers: { dim: number; maxLength: number; size: number; next: number }[];
}

function f32(data: Float32Array, shape: number[]): SafeTensor {
  return { dtype: 'F32', shape, data };
}

function f64(data: Float64Array, shape: number[]): SafeTensor {
  return { dtype: 'F64', shape, data };
}

/** Save a trainer's state (and optionally replay buffers) to `path`, atomically. */
export async function saveTrainerCheckpoint(path: string, trainer: Trainer, buffers: readonly ReplayBuffer[] = []): Promise<void> {
  const state = await trainer.getState();
  const tensors = new Map<string, SafeTensor>();
  const netMeta = (which: 'score' | 'energy', net: Network, s: NetworkState): NetworkMeta => {
    const shapes: Record<string, number[]> = {};
    for (const name of net.params.names()) {
      const shape = net.params.shape(name);
      shapes[name] = shape;
      tensors.set(`${which}/param/${name}`, f32(s.params[name], shape));
      tensors.set(`${which}/ema/${name}`, f32(s.ema.shadows[name], shape));
      if (name in s.adam.steps) {
        tensors.set(`${which}/adam_m/${name}`, f32(s.adam.m[name], shape));
        tensors.set(`${which}/adam_v/${name}`, f32(s.adam.v[name], shape));
      }
    }
    return { kind: s.kind, config: s.config, shapes, adamSteps: s.adam.steps, emaDecay: s.ema.decay, emaUpdates: s.ema.numUpdates };
  };
  const bufferMeta = buffers.map((b, k) => {
    const s: BufferState = b.getState();
    tensors.set(`buffer/${k}/x`, f64(s.x, [s.size, s.dim]));
    tensors.set(`buffer/${k}/logp`, f64(s.logp, [s.size]));
    tensors.set(`buffer/${k}/force`, f64(s.force, [s.size, s.dim]));
    return { dim: s.dim, maxLength: s.maxLength, size: s.size, next: s.next };
  });
  const meta: CheckpointMeta = {
    format: FORMAT,
    version: VERSION,
    step: state.step,
    config: state.config,
    rng: state.rng,
    score: netMeta('score', trainer.scoreNet, state.score),
    energy: netMeta('energy', trainer.energyNet, state.energy),
    buffers: bufferMeta,
  };
  saveSafetensors(path, tensors, { [META_KEY]: JSON.stringify(meta) });
}

/**
 * Load a checkpoint written by saveTrainerCheckpoint into a fresh trainer
 * (networks built by `factory`, which must give the saved architecture) and
 * fresh buffers. Mismatches and missing entries are UserErrors naming them.
 */
export function loadTrainerCheckpoint(path: string, factory: NetworkFactory, options: TrainerOptions = {}): { trainer: Trainer; buffers: ReplayBuffer[] } {
  const fail = (why: string): never => {
    throw new UserError(`${path}: not a usable pita trainer checkpoint: ${why}`);
  };
  let contents: ReturnType<typeof loadSafetensors>;
  try {
    contents = loadSafetensors(path);
  } catch (e) {
    // A truncated or overwritten file: one line naming it, not a stack trace.
    return fail((e as Error).message.replace(`${path}: `, ''));
  }
  const { tensors, metadata } = contents;
  const raw = metadata[META_KEY];
  if (raw === undefined) fail(`metadata key '${META_KEY}' is missing`);
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(raw as string) as CheckpointMeta;
  } catch (e) {
    return fail(`metadata is not JSON (${(e as Error).message})`);
  }
  if (meta.format !== FORMAT || meta.version !== VERSION) {
    fail(`format ${JSON.stringify(meta.format)} version ${meta.version}; expected ${FORMAT} version ${VERSION}`);
  }
  const tensor = (name: string, dtype: SafeTensor['dtype']): SafeTensor['data'] => {
    const t = tensors.get(name);
    if (t === undefined) return fail(`tensor '${name}' is missing`);
    if (t.dtype !== dtype) fail(`tensor '${name}' is ${t.dtype}, expected ${dtype}`);
    return t.data;
  };
  const netState = (which: 'score' | 'energy'): NetworkState => {
    const m = meta[which];
    const params: Record<string, Float32Array> = {};
    const shadows: Record<string, Float32Array> = {};
    const adam = { steps: { ...m.adamSteps }, m: {} as Record<string, Float32Array>, v: {} as Record<string, Float32Array> };
    for (const name of Object.keys(m.shapes)) {
      params[name] = tensor(`${which}/param/${name}`, 'F32') as Float32Array;
      shadows[name] = tensor(`${which}/ema/${name}`, 'F32') as Float32Array;
      if (name in m.adamSteps) {
        adam.m[name] = tensor(`${which}/adam_m/${name}`, 'F32') as Float32Array;
        adam.v[name] = tensor(`${which}/adam_v/${name}`, 'F32') as Float32Array;
      }
    }
    return { kind: m.kind, config: m.config, params, ema: { decay: m.emaDecay, numUpdates: m.emaUpdates, shadows }, adam };
  };
  const state: TrainerState = { config: meta.config, step: meta.step, rng: meta.rng, score: netState('score'), energy: netState('energy') };
  const buffers = meta.buffers.map((b, k) =>
    ReplayBuffer.fromState({
      ...b,
      x: tensor(`buffer/${k}/x`, 'F64') as Float64Array,
      logp: tensor(`buffer/${k}/logp`, 'F64') as Float64Array,
      force: tensor(`buffer/${k}/force`, 'F64') as Float64Array,
    }),
  );
  return { trainer: Trainer.fromState(factory, state, options), buffers };
}

const ANNEAL_FORMAT = 'pita-anneal-checkpoint';
const ANNEAL_VERSION = 1;
const ANNEAL_META_KEY = 'pita.anneal';

/** A rung's annealing, stopped part way: what `anneal` resumes from. */
export interface AnnealCheckpoint {
  /** The rung k annealed (T_k → T_{k+1}). */
  rung: number;
  state: AnnealState;
  /** The logs of steps 0 … state.step − 1. */
  log: AnnealStepLog[];
  /** Wall time this rung has spent so far (the rung summary's `seconds` go on from it). */
  seconds: number;
}

interface AnnealMeta {
  format: typeof ANNEAL_FORMAT;
  version: number;
  rung: number;
  step: number;
  moveStepSize: number;
  resamplings: number;
  log: AnnealStepLog[];
  seconds: number;
}

/** Save an annealing checkpoint to `path`, atomically. */
export function saveAnnealCheckpoint(path: string, c: AnnealCheckpoint): void {
  const { state } = c;
  const M = state.logWeights.length;
  const D = state.x.length / M;
  const tensors = new Map<string, SafeTensor>([
    ['x', f64(state.x, [M, D])],
    ['logWeights', f64(state.logWeights, [M])],
  ]);
  if (state.drift) {
    tensors.set('drift/energy', f64(state.drift.energy, [M]));
    tensors.set('drift/gradEnergy', f64(state.drift.gradEnergy, [M, D]));
    tensors.set('drift/score', f64(state.drift.score, [M, D]));
  }
  const meta: AnnealMeta = { format: ANNEAL_FORMAT, version: ANNEAL_VERSION, rung: c.rung, step: state.step, moveStepSize: state.moveStepSize, resamplings: state.resamplings, log: c.log, seconds: c.seconds };
  saveSafetensors(path, tensors, { [ANNEAL_META_KEY]: JSON.stringify(meta) });
}

/**
 * Load an annealing checkpoint written by saveAnnealCheckpoint for rung
 * `expect.rung` of `expect.particles` particles of dimension `expect.dim`
 * (and drift values when `expect.drift`); anything else is a UserError naming the file.
 */
export function loadAnnealCheckpoint(path: string, expect: { rung: number; particles: number; dim: number; steps: number; drift: boolean }): AnnealCheckpoint {
  const fail = (why: string): never => {
    throw new UserError(`${path}: not a usable pita annealing checkpoint: ${why}`);
  };
  let contents: ReturnType<typeof loadSafetensors>;
  try {
    contents = loadSafetensors(path);
  } catch (e) {
    return fail((e as Error).message.replace(`${path}: `, ''));
  }
  let meta: AnnealMeta;
  try {
    meta = JSON.parse(contents.metadata[ANNEAL_META_KEY] ?? 'null') as AnnealMeta;
  } catch (e) {
    return fail(`metadata is not JSON (${(e as Error).message})`);
  }
  if (meta?.format !== ANNEAL_FORMAT || meta.version !== ANNEAL_VERSION) fail(`format ${JSON.stringify(meta?.format)} version ${meta?.version}; expected ${ANNEAL_FORMAT} version ${ANNEAL_VERSION}`);
  if (meta.rung !== expect.rung) fail(`it holds rung ${meta.rung}, not ${expect.rung}`);
  if (!(Number.isInteger(meta.step) && meta.step >= 0 && meta.step <= expect.steps && Array.isArray(meta.log) && meta.log.length === meta.step)) fail(`step ${meta.step} with ${meta.log?.length} step logs, of ${expect.steps} steps`);
  const { particles: M, dim: D } = expect;
  const tensor = (name: string, shape: number[]): Float64Array => {
    const t = contents.tensors.get(name);
    if (t === undefined) return fail(`tensor '${name}' is missing`);
    if (t.dtype !== 'F64' || t.shape.join(',') !== shape.join(',')) fail(`tensor '${name}' is ${t.dtype} [${t.shape.join(', ')}], expected F64 [${shape.join(', ')}]`);
    return t.data as Float64Array;
  };
  const x = tensor('x', [M, D]);
  const logWeights = tensor('logWeights', [M]);
  const drift = expect.drift ? { energy: tensor('drift/energy', [M]), gradEnergy: tensor('drift/gradEnergy', [M, D]), score: tensor('drift/score', [M, D]) } : null;
  const state: AnnealState = { step: meta.step, x, logWeights, moveStepSize: meta.moveStepSize, resamplings: meta.resamplings, drift };
  return { rung: meta.rung, state, log: meta.log, seconds: meta.seconds };
}
