/**
 * Micro-batching with gradient accumulation (docs/tensor-engine.md §2.7): a
 * batch too large for one double-backprop pass on the wasm32 heap is split
 * into chunks whose gradients are summed. To reproduce the full-batch loss
 * exactly, each chunk's loss must be its ADDITIVE share of the full-batch
 * loss, e.g. (Σ over the chunk's rows) / B_full for a mean over the batch, or
 * (Σ over the chunk's eligible rows) / (eligible count of the whole batch)
 * for a masked mean such as L_TSM. Clip, step and EMA once, afterwards.
 */
import { dispose, scope } from './memory.js';
import { add } from './ops.js';
import { type ParamGrads, type ParamStore, valueAndParamGrads } from './params.js';
import type { Tensor } from './tensor.js';

/**
 * Σ over chunks [start, end) of `chunkLoss(start, end)` and of its parameter
 * gradients, for rows 0..n-1 in chunks of at most `microBatchSize` rows. Each
 * chunk runs in its own scope, so only the running sums stay alive. The loss
 * stays on the device (a scalar tensor: nothing is read back per chunk). The
 * returned tensors belong to the caller's scope; a parameter is null only if
 * no chunk's loss depends on it.
 */
export function accumulateParamGrads(
  store: ParamStore,
  n: number,
  microBatchSize: number,
  chunkLoss: (start: number, end: number) => Tensor,
): { loss: Tensor; grads: ParamGrads } {
  if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`accumulateParamGrads: n must be a positive integer, got ${n}`);
  if (!(Number.isInteger(microBatchSize) && microBatchSize >= 1)) {
    throw new RangeError(`accumulateParamGrads: microBatchSize must be a positive integer, got ${microBatchSize}`);
  }
  const names = store.names();
  let acc: (Tensor | null)[] = names.map(() => null);
  let loss: Tensor | null = null;
  for (let start = 0; start < n; start += microBatchSize) {
    const end = Math.min(n, start + microBatchSize);
    const prev = acc;
    const prevLoss: Tensor | null = loss;
    const step: { loss: Tensor; sums: (Tensor | null)[] } = scope(() => {
      const { value, grads } = valueAndParamGrads(() => chunkLoss(start, end), store);
      const sums = names.map((name, i) => {
        const g = grads.get(name) ?? null;
        const a = prev[i];
        return g === null ? a : a === null ? g : add(a, g);
      });
      return { loss: prevLoss === null ? value : add(prevLoss, value), sums };
    });
    // Running sums that were carried over unchanged are still referenced; free only replaced ones.
    dispose(prev.filter((a, i) => a !== null && step.sums[i] !== a));
    dispose(prevLoss);
    acc = step.sums;
    loss = step.loss;
  }
  return { loss: loss as Tensor, grads: new Map(names.map((name, i) => [name, acc[i]])) };
}
