/**
 * runSampler split across worker threads: each worker builds its own copy of
 * the target (from a TargetSpec) and one contiguous block of chains, and the
 * driver (run.ts) runs here, merging the blocks' replies in chain order.
 * Chains draw from streams derived from the seed and their index, so the
 * result is bit-identical to runSampler's, for any worker count. Warm-up
 * steps are taken in lockstep (the step-size adaptation pools all chains);
 * sampling steps run `thin` at a time between collections.
 */
import { moduleNextTo, splitRange, WorkerError, WorkerPool } from '../parallel/pool.js';
import { targetFromSpec, type TargetSpec } from '../targets/spec.js';
import { ChainBlock, type ChainPlan } from './chains.js';
import { answerBlock, driveSampler, planRun, runSamplerAsync, type BlockRequest, type SampleOptions, type SampleResult } from './run.js';
import { InterruptedError, NonFiniteError, UserError } from '../core/errors.js';
import type { JobContext } from '../parallel/pool.js';

/**
 * Samples `spec`'s target with `opts` on `workers` threads (at most one per
 * chain); 1 runs runSampler in this thread (on `target`, by default built from the spec). The result equals runSampler's
 * bit for bit. The evaluations happen on the workers' copies of the target
 * and are added to `target`'s counter at the end, so the accounting is the
 * same as with one thread. With a `signal`, the run stops with an
 * InterruptedError at the next request once it is aborted.
 */
export async function runSamplerInWorkers(spec: TargetSpec, opts: SampleOptions, workers: number, target = targetFromSpec(spec), signal?: AbortSignal): Promise<SampleResult> {
  if (!(Number.isInteger(workers) && workers >= 1)) throw new UserError(`workers must be an integer ≥ 1, got ${workers}`);
  if (workers === 1) return runSamplerAsync(target, opts, signal);
  if (typeof opts.sampler === 'function' || typeof opts.local === 'function') throw new UserError('a kernel factory runs in this thread only; use workers = 1');
  const plan = planRun(target, opts);
  const blocks = splitRange(plan.chains, Math.min(workers, plan.chains));
  const pool = new WorkerPool(blocks.length);
  const jobs = moduleNextTo(import.meta.url, 'parallel');
  try {
    const run = driveSampler(plan, opts.onProgress);
    let next = run.next();
    while (!next.done) {
      if (signal?.aborted) throw new InterruptedError(`${plan.name} sampling of ${plan.target.name} interrupted`);
      const req = next.value;
      const chunks: unknown[] = req.op === 'start' ? blocks.map(([from, to]) => ({ spec, plan: plan.chain, from, to })) : blocks.map(() => req);
      next = run.next(await pool.run(jobs, req.op === 'start' ? 'startChains' : 'answerChains', chunks));
    }
    target.counter.add(next.value.evaluations.total);
    return next.value;
  } catch (err) {
    // What the sampler itself refuses reads as with one thread; anything else names its worker.
    if (err instanceof WorkerError && err.errorName === 'UserError') throw new UserError(err.reason);
    if (err instanceof WorkerError && err.errorName === 'NonFiniteError') throw new NonFiniteError(err.reason);
    throw err;
  } finally {
    await pool.close();
  }
}

/** Worker job: builds the worker's target and block of chains and answers 'start'. */
export function startChains(chunk: { spec: TargetSpec; plan: ChainPlan; from: number; to: number }, ctx: JobContext): unknown {
  const block = new ChainBlock(targetFromSpec(chunk.spec), chunk.plan, chunk.from, chunk.to);
  ctx.state.set('chains', block);
  return answerBlock(block, { op: 'start' });
}

/** Worker job: answers a driver request on the worker's block of chains. */
export function answerChains(req: BlockRequest, ctx: JobContext): unknown {
  return answerBlock(ctx.state.get('chains') as ChainBlock, req);
}
