// Network worker jobs for the data-parallel tests: the real ones, except that
// worker 1 throws on its second gradient slice (a fault mid-training) and on
// its third field slice (a fault mid-annealing).
import type { JobContext } from '../../src/parallel/pool.js';
import { fieldSlice as realFieldSlice, sliceGradients as realSliceGradients } from '../../src/pita/data-parallel.js';

export { loadField, startNetworkWorker } from '../../src/pita/data-parallel.js';

/** The number of calls of `job` in this worker so far, this one included. */
function count(ctx: JobContext, job: string): number {
  const calls = ((ctx.state.get(`calls:${job}`) as number | undefined) ?? 0) + 1;
  ctx.state.set(`calls:${job}`, calls);
  return calls;
}

export function sliceGradients(chunk: Parameters<typeof realSliceGradients>[0], ctx: JobContext): ReturnType<typeof realSliceGradients> {
  if (ctx.worker === 1 && count(ctx, 'sliceGradients') === 2) throw new Error('injected fault\nwith a second line');
  return realSliceGradients(chunk, ctx);
}

export function fieldSlice(chunk: Parameters<typeof realFieldSlice>[0], ctx: JobContext): ReturnType<typeof realFieldSlice> {
  if (ctx.worker === 1 && count(ctx, 'fieldSlice') === 3) throw new Error('injected field fault\nwith a second line');
  return realFieldSlice(chunk, ctx);
}
