/**
 * The tensor layer: the only part of pita that talks to the tensor engine
 * (tfjs-core + wasm). Everything else imports from here.
 */
export { type BackendInfo, type GpuAdapterInfo, backendInfo, initTensorBackend } from './backend.js';
export { DEVICE_CHOICES, type DeviceChoice } from './device.js';
export * from './ops.js';
export { E, type Expr } from './fused.js';
export { grad, grads, valueAndGrad, valueAndGrads } from './autodiff.js';
export {
  DEFAULT_TENSOR_MEMORY_LIMIT_BYTES,
  WASM32_HEAP_MAX_BYTES,
  WasmHeapError,
  dispose,
  keep,
  memory,
  scope,
  setTensorMemoryLimit,
  tensorMemoryLimit,
} from './memory.js';
export { type ParamGrads, type ParamInit, ParamStore, valueAndParamGrads } from './params.js';
export { Adam, type AdamOptions, type AdamState, Ema, type EmaState, clipGradNorm } from './optim.js';
export { accumulateParamGrads } from './microbatch.js';
export { type CapturedStep, StaleCaptureError, type StepSpec, captureStep } from './replay.js';
export type { DispatchShape, KernelTime, StepProfile } from './gpu-profile.js';
export { GpuError } from './gpu-errors.js';
export { timedMatmuls } from './webgpu-gemm-tune.js';
export * from './safetensors.js';
