/**
 * Tensor lifetime and the wasm32 heap guard.
 *
 * Lifetime: every op result is owned by the innermost open `scope` and freed
 * when it closes, unless it is part of the scope's result or was `keep`-ed.
 * Only parameters, optimiser state and EMA shadows should outlive a step.
 *
 * Heap guard: tfjs-wasm allocates tensors in one wasm32 heap of at most
 * 4 294 901 760 bytes. Near that limit its allocator misbehaves silently
 * (measured here: a 4.29 GB request returned a bogus pointer, later ops
 * aborted or read overlapping memory). pita therefore refuses any tensor
 * allocation that would take the live tensor bytes above a soft limit
 * (default 3 GiB, leaving room for allocator overhead and kernel scratch) and
 * throws a `WasmHeapError` that names the limit, instead of corrupting memory.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Tensor, raw } from './tensor.js';

/** Largest heap the tfjs-backend-wasm 4.22 build can grow to (emscripten getHeapMax). */
export const WASM32_HEAP_MAX_BYTES = 4294901760;
/** Default soft limit on live tensor bytes (3 GiB). */
export const DEFAULT_TENSOR_MEMORY_LIMIT_BYTES = 3 * 1024 ** 3;

let limitBytes = DEFAULT_TENSOR_MEMORY_LIMIT_BYTES;

/** Thrown instead of letting a tensor allocation exhaust the wasm32 heap. */
export class WasmHeapError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WasmHeapError';
  }
}

/**
 * Set the soft limit on live tensor bytes (0 < bytes ≤ WASM32_HEAP_MAX_BYTES).
 * Lower it to fail early; raising it towards the hard maximum risks silent
 * heap corruption.
 */
export function setTensorMemoryLimit(bytes: number): void {
  if (!Number.isFinite(bytes) || bytes <= 0 || bytes > WASM32_HEAP_MAX_BYTES) {
    throw new RangeError(`tensor memory limit must be in (0, ${WASM32_HEAP_MAX_BYTES}] bytes, got ${bytes}`);
  }
  limitBytes = bytes;
}

export function tensorMemoryLimit(): number {
  return limitBytes;
}

function heapAdvice(): string {
  return 'reduce the batch size, or split it with accumulateParamGrads (src/tensor/microbatch.ts), and make sure every step runs inside scope()';
}

/** The wasm module fields the guard needs. */
interface WasmHeapModule {
  _malloc(bytes: number): number;
}

const guarded = new WeakSet<object>();

/**
 * Wrap the wasm module's `_malloc`, through which tfjs-wasm allocates every
 * tensor, with the soft-limit check and a null-pointer check (src/tensor only).
 * The emscripten glue replaces `Module._malloc` with the raw export on its
 * first call, so the wrapper is installed as an accessor: assignments replace
 * the wrapped function, reads always return the wrapper.
 */
export function installHeapGuard(module: WasmHeapModule): void {
  if (guarded.has(module)) return;
  let malloc = module._malloc;
  const checkedMalloc = (bytes: number): number => {
    const live = tf.memory().numBytes;
    if (live + bytes > limitBytes) {
      throw new WasmHeapError(
        `tensor allocation of ${bytes} bytes refused: live tensors already hold ${live} bytes and the limit is ` +
          `${limitBytes} bytes (wasm32 heap maximum ${WASM32_HEAP_MAX_BYTES}); ${heapAdvice()}`,
      );
    }
    const ptr = malloc.call(module, bytes);
    if (ptr === 0 && bytes > 0) {
      throw new WasmHeapError(
        `wasm heap allocation of ${bytes} bytes failed with ${live} bytes in live tensors ` +
          `(wasm32 heap maximum ${WASM32_HEAP_MAX_BYTES}); ${heapAdvice()}`,
      );
    }
    return ptr;
  };
  Object.defineProperty(module, '_malloc', {
    configurable: true,
    enumerable: true,
    get: () => checkedMalloc,
    set: (f: (bytes: number) => number) => {
      malloc = f;
    },
  });
  guarded.add(module);
}

/**
 * Re-throw a wasm runtime failure (out-of-bounds access, emscripten abort) as
 * a WasmHeapError that says what usually causes it; other errors pass through.
 */
export function rethrowWasmFailure(e: unknown): never {
  const msg = e instanceof Error ? e.message : String(e);
  if ((e instanceof Error && e.name === 'RuntimeError') || /^Aborted\(/.test(msg)) {
    throw new WasmHeapError(
      `wasm runtime failure "${msg}" with ${tf.memory().numBytes} bytes in live tensors; this usually means the ` +
        `wasm32 heap (maximum ${WASM32_HEAP_MAX_BYTES} bytes) was exhausted; ${heapAdvice()}`,
      { cause: e },
    );
  }
  throw e;
}

/** Every backend tensor inside a result: arrays, plain objects, Maps and Sets are searched. */
function collectTensors(x: unknown, out: tf.Tensor[], seen: Set<unknown>): void {
  if (x === null || typeof x !== 'object' || seen.has(x)) return;
  seen.add(x);
  if (x instanceof tf.Tensor) {
    out.push(x);
  } else if (x instanceof Map || x instanceof Set) {
    for (const v of x.values()) collectTensors(v, out, seen);
  } else if (!ArrayBuffer.isView(x)) {
    for (const v of Object.values(x)) collectTensors(v, out, seen);
  }
}

/**
 * Run `fn` (synchronous) and free every tensor it created except those in its
 * result (searched through arrays, plain objects, Maps and Sets) and those
 * kept with `keep`. Equivalent to tf.tidy, which does not look inside Maps.
 */
export function scope<R>(fn: () => R): R {
  let result!: R;
  try {
    tf.tidy(() => {
      result = fn();
      if (result instanceof Promise) {
        throw new TypeError('scope(fn): fn returned a Promise; scopes cannot span an await (dispose explicitly instead)');
      }
      const keepers: tf.Tensor[] = [];
      collectTensors(result, keepers, new Set());
      return keepers;
    });
  } catch (e) {
    rethrowWasmFailure(e);
  }
  return result;
}

/** Exempt `t` from every enclosing scope; free it later with `dispose`. */
export function keep<T extends Tensor>(t: T): T {
  tf.keep(raw(t));
  return t;
}

/** Free tensors now (null entries are skipped). */
export function dispose(ts: Tensor | null | readonly (Tensor | null)[]): void {
  const list = Array.isArray(ts) ? ts : [ts];
  for (const t of list as (Tensor | null)[]) if (t !== null) raw(t).dispose();
}

/** Live tensor count and bytes (bytes of tensors sharing data are counted once per tensor). */
export function memory(): { numTensors: number; numBytes: number } {
  const m = tf.memory();
  return { numTensors: m.numTensors, numBytes: m.numBytes };
}
