/**
 * Tensor backend start-up: tfjs-core on the wasm backend (SIMD, one thread),
 * with the guard rails of the tensor-engine spec §4.3–4.4 and §4.7:
 * - the .wasm binaries are located next to the installed package (works from
 *   the TypeScript sources under tsx and from the compiled dist/ under node);
 * - the backend identity is asserted after setBackend (tfjs otherwise falls
 *   back silently to a 5–18× slower backend);
 * - every kernel the ops layer runs must be registered for wasm and every
 *   taped kernel must have a pita gradient, or start-up fails;
 * - threads are never enabled (setThreadsCount breaks under Node 20);
 * - the wasm heap guard (memory.ts) is installed.
 */
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { registerGradients } from './gradients.js';
import { KERNELS } from './kernels.js';
import { WASM32_HEAP_MAX_BYTES, installHeapGuard } from './memory.js';

export interface BackendInfo {
  /** Always 'wasm'. */
  name: 'wasm';
  /** Whether the SIMD build of the wasm binary is in use. */
  simd: boolean;
  /** Worker threads used by kernels (always 1 under Node). */
  threads: 1;
  /** Directory the .wasm binaries were loaded from. */
  wasmDir: string;
  /** Hard maximum of the wasm32 heap, bytes. */
  heapMaxBytes: number;
}

let info: BackendInfo | null = null;
let pending: Promise<BackendInfo> | null = null;

/** Directory of the installed @tensorflow/tfjs-backend-wasm .wasm files. */
function wasmDirectory(): string {
  const entry = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
  const dir = path.dirname(entry);
  const binary = path.join(dir, 'tfjs-backend-wasm-simd.wasm');
  if (!existsSync(binary)) {
    throw new Error(`tensor backend: ${binary} not found next to ${entry}; reinstall @tensorflow/tfjs-backend-wasm`);
  }
  return dir;
}

async function start(): Promise<BackendInfo> {
  const wasmDir = wasmDirectory();
  setWasmPaths(wasmDir + path.sep);
  registerGradients();
  const ok = await tf.setBackend('wasm');
  if (!ok || tf.getBackend() !== 'wasm') {
    throw new Error(
      `tensor backend: failed to start the wasm backend (setBackend returned ${ok}, active backend '${tf.getBackend()}'); ` +
        'refusing to run on a fallback backend',
    );
  }
  const missing = [...KERNELS.taped, ...KERNELS.forwardOnly].filter((name) => tf.getKernel(name, 'wasm') == null);
  if (missing.length > 0) {
    throw new Error(`tensor backend: kernels not registered for wasm: ${missing.join(', ')}`);
  }
  const noGrad = KERNELS.taped.filter((name) => tf.getGradient(name) == null);
  if (noGrad.length > 0) {
    throw new Error(`tensor backend: no gradient registered for taped kernels: ${noGrad.join(', ')}`);
  }
  if ((await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) === true) {
    // Never observed under Node 20; threads would need setThreadsCount, which pita never calls.
    throw new Error('tensor backend: the multi-threaded wasm build was selected; pita supports only the single-threaded build');
  }
  installHeapGuard((tf.backend() as unknown as { wasm: { _malloc(bytes: number): number } }).wasm);
  return {
    name: 'wasm',
    simd: (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true,
    threads: 1,
    wasmDir,
    heapMaxBytes: WASM32_HEAP_MAX_BYTES,
  };
}

/**
 * Start the tensor backend (idempotent; concurrent calls share one start).
 * Must complete before any tensor is created. Throws, naming the cause, if
 * the wasm backend cannot be started or lacks a kernel the ops layer needs.
 */
export function initTensorBackend(): Promise<BackendInfo> {
  pending ??= start().then(
    (i) => (info = i),
    (e: unknown) => {
      pending = null;
      throw e;
    },
  );
  return pending;
}

/** The started backend's description; throws if initTensorBackend has not completed. */
export function backendInfo(): BackendInfo {
  if (info === null || tf.getBackend() !== 'wasm') {
    throw new Error('tensor backend not started (or switched away from wasm): await initTensorBackend() first');
  }
  return info;
}
