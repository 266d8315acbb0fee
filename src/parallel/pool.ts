/**
 * A small pool of `node:worker_threads` workers. `run(module, job, chunks)`
 * sends chunk i to worker i mod size, where the named export `job` of
 * `module` handles it, and resolves with the results in chunk order. A worker
 * keeps a `state` map between jobs, so a job can build something once (a
 * target, a block of chains) and later jobs can use it.
 *
 * Workers run the project's TypeScript either compiled (dist/: the entry is
 * worker.js next to this file) or from the sources under tsx (tests,
 * `node --import tsx`): then the entry is worker.ts, started from a small
 * bootstrap that registers tsx's loader first, since a worker does not
 * inherit the `--import tsx` hooks of its parent.
 *
 * A job that throws, or a worker that exits or crashes, rejects the run with
 * one line naming the worker index and the error; the pool is then closed.
 */
import { Worker } from 'node:worker_threads';

/** What a job function is given besides its chunk. */
export interface JobContext {
  /** Index of the worker running the job. */
  worker: number;
  /** Per-worker storage that lasts between jobs. */
  state: Map<string, unknown>;
}

/** A job: an exported function of a module, run on one chunk in a worker. */
export type Job<C, R> = (chunk: C, ctx: JobContext) => R | Promise<R>;

/** The URL of module `name` next to the module at `metaUrl`, with the same extension (.ts under tsx, .js compiled). */
export function moduleNextTo(metaUrl: string, name: string): string {
  const ext = metaUrl.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./${name}${ext}`, metaUrl).href;
}

/** Items 0..n−1 in `parts` contiguous ranges [from, to), sizes differing by at most one (how work is split across workers). */
export function splitRange(n: number, parts: number): Array<[number, number]> {
  return Array.from({ length: parts }, (_, i) => [Math.floor((i * n) / parts), Math.floor(((i + 1) * n) / parts)]);
}

/** A job's failure: `message` is the one line `worker i failed: reason`; `errorName` is the thrown error's name (UserError, …) when a job threw. */
export class WorkerError extends Error {
  constructor(
    readonly worker: number,
    readonly reason: string,
    readonly errorName = 'Error',
  ) {
    super(`worker ${worker} failed: ${reason}`);
    this.name = 'WorkerError';
  }
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

/** First line of an error's message (or of its string form). */
function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0];
}

function startWorker(index: number): Worker {
  const entry = moduleNextTo(import.meta.url, 'worker');
  const workerData = { index };
  if (!entry.endsWith('.ts')) return new Worker(new URL(entry), { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(entry)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), { workerData });
}

export class WorkerPool {
  private readonly workers: Worker[];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failure: Error | null = null;
  private closed = false;

  /** Starts `size` workers (≥ 1). */
  constructor(readonly size: number) {
    if (!(Number.isInteger(size) && size >= 1)) throw new Error(`worker pool size must be an integer ≥ 1, got ${size}`);
    this.workers = Array.from({ length: size }, (_, i) => this.watch(startWorker(i), i));
  }

  private watch(w: Worker, index: number): Worker {
    w.on('message', (m: { id: number; ok: boolean; result?: unknown; error?: string; name?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      if (!m.ok) return this.fail(new WorkerError(index, m.error ?? '', m.name));
      this.pending.delete(m.id);
      p.resolve(m.result);
    });
    w.on('error', (err) => this.fail(new WorkerError(index, oneLine(err))));
    w.on('exit', (code) => {
      if (!this.closed) this.fail(new WorkerError(index, `it exited with code ${code}`));
    });
    return w;
  }

  /** Rejects every pending job with `err` and closes the pool (the first failure wins). */
  private fail(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
    void this.close();
  }

  /**
   * Runs export `job` of `module` (a file URL, see moduleNextTo) on every
   * chunk; chunk i goes to worker i mod size. Resolves with the results in
   * chunk order.
   */
  run<C, R>(module: string, job: string, chunks: readonly C[]): Promise<R[]> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('the worker pool is closed'));
    return Promise.all(
      chunks.map(
        (chunk, i) =>
          new Promise<R>((resolve, reject) => {
            const id = this.nextId++;
            const worker = i % this.size;
            this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
            this.workers[worker].postMessage({ id, module, job, chunk });
          }),
      ),
    );
  }

  /** Stops every worker. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
