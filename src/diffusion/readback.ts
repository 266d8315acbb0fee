/**
 * The host boundary of the diffusion and annealing code: tensors computed
 * inside a scope (and returned from it, so they outlive it) are read back
 * together, then freed. Reads are async (a WebGPU backend cannot read
 * synchronously in Node) and are the expensive step on a GPU, so everything
 * an evaluation needs is requested at once rather than one tensor at a time.
 */
import * as T from '../tensor/index.js';

/** Reads every tensor of `ts` as float64 and disposes them, also when a read fails. */
export async function readAndDispose<K extends string>(ts: Record<K, T.Tensor>): Promise<Record<K, Float64Array>> {
  const keys = Object.keys(ts) as K[];
  try {
    const values = await Promise.all(keys.map((k) => T.readF64(ts[k])));
    return Object.fromEntries(keys.map((k, i) => [k, values[i]])) as Record<K, Float64Array>;
  } finally {
    T.dispose(keys.map((k) => ts[k]));
  }
}
