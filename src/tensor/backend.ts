/**
 * Tensor backend start-up. Two devices:
 * - `cpu`: tfjs-core on the wasm backend (SIMD, one thread);
 * - `webgpu`: tfjs-backend-webgpu on `navigator.gpu`, which in Node comes
 *   from Dawn (the npm package `webgpu`), in a browser from the browser.
 * `auto` takes WebGPU when a hardware adapter exists and the CPU otherwise: a
 * software adapter (Mesa lavapipe, SwiftShader) is slower than wasm, so auto
 * never picks one; `webgpu` asked for explicitly takes any adapter.
 *
 * Guard rails (docs/tensor-engine.md §2.3, §2.4 and §2.7):
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
import { UserError } from '../core/errors.js';
import { describeAdapter, findGpu, hardwareGpuPossible } from './webgpu.js';
import { registerGradients } from './gradients.js';
import { watchDevice } from './gpu-errors.js';
import { KERNELS } from './kernels.js';
import { WASM32_HEAP_MAX_BYTES, installHeapGuard } from './memory.js';
import { installWasmKernels } from './wasm-kernels.js';

import { DEVICE_CHOICES, type DeviceChoice } from './device.js';

export interface BackendInfo {
  /** The tfjs backend: 'wasm' (device cpu) or 'webgpu'. */
  name: 'wasm' | 'webgpu';
  /** What was used, for logs and reports: 'cpu (wasm, SIMD)' or 'webgpu (nvidia h200, discrete)'. */
  device: string;
  /** Whether the SIMD build of the wasm binary is in use (false for webgpu). */
  simd: boolean;
  /** Worker threads used by kernels (always 1 under Node). */
  threads: 1;
  /** Directory the .wasm binaries were loaded from. */
  wasmDir: string;
  /** Hard maximum of the wasm32 heap, bytes (infinite for webgpu). */
  heapMaxBytes: number;
  /** The adapter of a webgpu backend, null for wasm. */
  adapter: GpuAdapterInfo | null;
}

/** The WebGPU adapter behind a webgpu backend. */
export interface GpuAdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** 'CPU' for a software (fallback) adapter such as lavapipe, else 'GPU'. */
  type: 'CPU' | 'GPU';
  /** False where Dawn compiles shaders without index clamps (`PITA_ROBUSTNESS=0`, webgpu.ts `dawnFlags`). */
  robustness: boolean;
}

let info: BackendInfo | null = null;
let pending: Promise<BackendInfo> | null = null;
let requested: DeviceChoice | null = null;

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

function checkKernels(backend: 'wasm' | 'webgpu'): void {
  const missing = [...KERNELS.taped, ...KERNELS.forwardOnly].filter((name) => tf.getKernel(name, backend) == null);
  if (missing.length > 0) {
    throw new Error(`tensor backend: kernels not registered for ${backend}: ${missing.join(', ')}`);
  }
  const noGrad = KERNELS.taped.filter((name) => tf.getGradient(name) == null);
  if (noGrad.length > 0) {
    throw new Error(`tensor backend: no gradient registered for taped kernels: ${noGrad.join(', ')}`);
  }
}

async function setBackend(name: 'wasm' | 'webgpu'): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) {
    throw new Error(
      `tensor backend: failed to start the ${name} backend (setBackend returned ${ok}, active backend '${tf.getBackend()}'); ` +
        'refusing to run on a fallback backend',
    );
  }
}

async function startWasm(): Promise<BackendInfo> {
  const wasmDir = wasmDirectory();
  setWasmPaths(wasmDir + path.sep);
  registerGradients();
  await setBackend('wasm');
  installWasmKernels();
  checkKernels('wasm');
  if ((await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) === true) {
    // Never observed under Node 20; threads would need setThreadsCount, which pita never calls.
    throw new Error('tensor backend: the multi-threaded wasm build was selected; pita supports only the single-threaded build');
  }
  installHeapGuard((tf.backend() as unknown as { wasm: { _malloc(bytes: number): number } }).wasm);
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
  return {
    name: 'wasm',
    device: `cpu (wasm${simd ? ', SIMD' : ''}, 1 thread)`,
    simd,
    threads: 1,
    wasmDir,
    heapMaxBytes: WASM32_HEAP_MAX_BYTES,
    adapter: null,
  };
}

async function startWebGpu(adapter: GpuAdapterInfo): Promise<BackendInfo> {
  registerGradients();
  // tfjs-backend-webgpu registers itself on import only if navigator.gpu exists (findGpu made sure).
  await import('@tensorflow/tfjs-backend-webgpu');
  // Never run a kernel on the CPU behind the graph's back: results must not depend on tensor sizes.
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  await setBackend('webgpu');
  watchDevice((tf.backend() as unknown as { device: GPUDevice }).device);
  (await import('./webgpu-kernels.js')).installWebGpuKernels();
  checkKernels('webgpu');
  // A misspelt PITA_GEMM or PITA_SUM_CHUNK fails here, in one line, not inside the first captured step.
  (await import('./webgpu-gemm.js')).gemmSetting();
  (await import('./webgpu-kernels.js')).sumChunk();
  return {
    name: 'webgpu',
    device: `webgpu (${describeAdapter(adapter)})`,
    simd: false,
    threads: 1,
    wasmDir: '',
    heapMaxBytes: Number.POSITIVE_INFINITY,
    adapter,
  };
}

async function start(choice: DeviceChoice): Promise<BackendInfo> {
  if (!DEVICE_CHOICES.includes(choice)) {
    throw new UserError(`device must be one of ${DEVICE_CHOICES.join(', ')}, got '${String(choice)}'`);
  }
  if (choice === 'cpu' || (choice === 'auto' && !hardwareGpuPossible())) return startWasm();
  const found = await findGpu();
  if (choice === 'webgpu') {
    if (found.adapter === null) throw new UserError(`device webgpu: no WebGPU adapter (${found.tried})`);
    return startWebGpu(found.adapter);
  }
  return found.adapter !== null && found.adapter.type !== 'CPU' ? startWebGpu(found.adapter) : startWasm();
}

/**
 * Start the tensor backend on `device` (default 'cpu'; the CLI and run
 * configs default to 'auto'). Idempotent: concurrent and later calls share
 * one start, and asking for a different device than the started one throws.
 * Must complete before any tensor is created. Throws, naming the cause, if
 * the backend cannot be started or lacks a kernel the ops layer needs.
 */
export function initTensorBackend(device: DeviceChoice = 'cpu'): Promise<BackendInfo> {
  if (pending !== null && requested !== device) {
    return pending.then((i) => {
      if (device === 'auto' || (device === 'cpu' ? i.name === 'wasm' : i.name === 'webgpu')) return i;
      throw new UserError(`the tensor backend already runs on ${i.device}; one process uses one device (asked for ${device})`);
    });
  }
  requested = device;
  pending ??= start(device).then(
    (i) => (info = i),
    (e: unknown) => {
      pending = null;
      requested = null;
      throw e;
    },
  );
  return pending;
}

/** The started backend's description; throws if initTensorBackend has not completed. */
export function backendInfo(): BackendInfo {
  if (info === null || tf.getBackend() !== info.name) {
    throw new Error('tensor backend not started (or switched away): await initTensorBackend() first');
  }
  return info;
}
