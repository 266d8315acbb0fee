// Gradient worker jobs for the data-parallel tests: the real ones, except that
// worker 1 throws on its second slice (a fault mid-training).
import type { JobContext } from '../../src/parallel/pool.js';
import { sliceGradients as realSliceGradients } from '../../src/pita/data-parallel.js';

export { startGradientWorker } from '../../src/pita/data-parallel.js';

export function sliceGradients(chunk: Parameters<typeof realSliceGradients>[0], ctx: JobContext): ReturnType<typeof realSliceGradients> {
  const calls = ((ctx.state.get('calls') as number | undefined) ?? 0) + 1;
  ctx.state.set('calls', calls);
  if (ctx.worker === 1 && calls === 2) throw new Error('injected fault\nwith a second line');
  return realSliceGradients(chunk, ctx);
}
