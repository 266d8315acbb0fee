// Jobs for the worker-pool tests.
import type { JobContext } from '../../src/parallel/pool.js';

export function square(x: number, ctx: JobContext): { x: number; sq: number; worker: number } {
  return { x, sq: x * x, worker: ctx.worker };
}

export function count(_: null, ctx: JobContext): number {
  const n = ((ctx.state.get('count') as number | undefined) ?? 0) + 1;
  ctx.state.set('count', n);
  return n;
}

export function fail(x: number): number {
  if (x === 2) throw new Error('chunk 2 is bad\nsecond line');
  return x;
}

export function die(x: number): number {
  if (x === 1) process.exit(7);
  return x;
}
