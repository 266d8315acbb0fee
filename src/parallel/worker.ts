/**
 * Entry of a pool worker (see pool.ts): imports the module a message names,
 * runs its exported job on the chunk and posts the result, or the error's
 * message.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Job, JobContext } from './pool.js';

const port = parentPort;
if (!port) throw new Error('src/parallel/worker runs only as a worker thread');
const ctx: JobContext = { worker: (workerData as { index: number }).index, state: new Map() };

port.on('message', (m: { id: number; module: string; job: string; chunk: unknown }) => {
  void (async () => {
    try {
      const mod = (await import(m.module)) as Record<string, unknown>;
      const job = mod[m.job];
      if (typeof job !== 'function') throw new Error(`${m.module} has no job '${m.job}'`);
      const result = await (job as Job<unknown, unknown>)(m.chunk, ctx);
      port.postMessage({ id: m.id, ok: true, result });
    } catch (err) {
      const text = err instanceof Error ? err.message : String(err);
      port.postMessage({ id: m.id, ok: false, error: text.split('\n')[0], name: err instanceof Error ? err.name : 'Error' });
    }
  })();
});
