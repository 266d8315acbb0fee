/**
 * The replica blocks of an MD run (replicas.ts), in this thread or split
 * across worker threads, behind one interface, so that run.ts drives both
 * the same way. Each worker builds its own copy of the target from a
 * TargetSpec and one contiguous block of replicas; replies come back in
 * replica order, so the run does not depend on the worker count.
 */
import { moduleNextTo, splitRange, WorkerError, WorkerPool, type JobContext } from '../parallel/pool.js';
import { concat } from '../samplers/run.js';
import { targetFromSpec, type TargetSpec } from '../targets/spec.js';
import type { Target } from '../targets/target.js';
import { NonFiniteError, UserError } from '../core/errors.js';
import { ReplicaBlock, type BlockStarted, type ChunkResult, type FreshStart, type ReplicaPlan, type SavedReplicas } from './replicas.js';

/** How a run starts: fresh (rows [replicas, dim]) or from saved replicas (all of them, in replica order). */
export type StartRequest = { fresh: FreshStart } | { saved: SavedReplicas };

export interface ReplicaBlocks {
  /** Starts every block; resolves with replica 0's minimised energy (or null) and the evaluations of all blocks. */
  start(req: StartRequest): Promise<BlockStarted>;
  advance(firstStep: number, steps: number): Promise<ChunkResult[]>;
  /** All replicas' saved state, in replica order. */
  snapshot(): Promise<SavedReplicas>;
  close(): Promise<void>;
}

/** The part of a whole-run start that block [from, to) gets. */
function sliceStart(req: StartRequest, from: number, to: number, dim: number): StartRequest {
  if ('fresh' in req) return { fresh: { ...req.fresh, x: req.fresh.x.slice(from * dim, to * dim) } };
  const s = req.saved;
  return { saved: { x: s.x.slice(from * dim, to * dim), v: s.v.slice(from * dim, to * dim), rng: s.rng.slice(from, to) } };
}

function startBlock(block: ReplicaBlock, req: StartRequest): BlockStarted {
  if ('fresh' in req) block.startFresh(req.fresh);
  else block.resume(req.saved);
  return block.started();
}

function joinSnapshots(parts: SavedReplicas[]): SavedReplicas {
  return { x: concat(parts.map((p) => p.x)), v: concat(parts.map((p) => p.v)), rng: parts.flatMap((p) => p.rng) };
}

/** Every replica in one block in this thread. */
export function blocksInThread(target: Target, plan: ReplicaPlan, replicas: number): ReplicaBlocks {
  const block = new ReplicaBlock(target, plan, 0, replicas);
  return {
    start: (req) => Promise.resolve(startBlock(block, req)),
    advance: (firstStep, steps) => Promise.resolve([block.advance(firstStep, steps)]),
    snapshot: () => Promise.resolve(block.snapshot()),
    close: () => Promise.resolve(),
  };
}

/** Replicas split into `workers` contiguous blocks (at most one per replica), one per worker thread. */
export function blocksInWorkers(spec: TargetSpec, dim: number, plan: ReplicaPlan, replicas: number, workers: number): ReplicaBlocks {
  const ranges = splitRange(replicas, Math.min(workers, replicas));
  const pool = new WorkerPool(ranges.length);
  const jobs = moduleNextTo(import.meta.url, 'parallel');
  // What the run itself refuses reads as with one thread; anything else names its worker.
  const call = async <R>(job: string, chunks: unknown[]): Promise<R[]> => {
    try {
      return await pool.run<unknown, R>(jobs, job, chunks);
    } catch (err) {
      if (err instanceof WorkerError && err.errorName === 'UserError') throw new UserError(err.reason);
      if (err instanceof WorkerError && err.errorName === 'NonFiniteError') throw new NonFiniteError(err.reason);
      throw err;
    }
  };
  return {
    start: async (req) => {
      const chunks = ranges.map(([from, to]) => ({ spec, plan, from, to, start: sliceStart(req, from, to, dim) }));
      const started = await call<BlockStarted>('startReplicas', chunks);
      return { minimizedEnergy: started[0].minimizedEnergy, evaluations: started.reduce((a, s) => a + s.evaluations, 0) };
    },
    advance: (firstStep, steps) => call<ChunkResult>('advanceReplicas', ranges.map(() => ({ firstStep, steps }))),
    snapshot: async () => joinSnapshots(await call<SavedReplicas>('snapshotReplicas', ranges.map(() => null))),
    close: () => pool.close(),
  };
}

/** Worker job: builds the worker's target and block of replicas and starts it. */
export function startReplicas(chunk: { spec: TargetSpec; plan: ReplicaPlan; from: number; to: number; start: StartRequest }, ctx: JobContext): BlockStarted {
  const block = new ReplicaBlock(targetFromSpec(chunk.spec), chunk.plan, chunk.from, chunk.to);
  ctx.state.set('replicas', block);
  return startBlock(block, chunk.start);
}

/** Worker job: advances the worker's replicas. */
export function advanceReplicas(req: { firstStep: number; steps: number }, ctx: JobContext): ChunkResult {
  return (ctx.state.get('replicas') as ReplicaBlock).advance(req.firstStep, req.steps);
}

/** Worker job: the worker's replicas for a checkpoint. */
export function snapshotReplicas(_: null, ctx: JobContext): SavedReplicas {
  return (ctx.state.get('replicas') as ReplicaBlock).snapshot();
}
