// SIMD kernels for the wasm tensor backend, compiled by AssemblyScript to
// build/kernels.wasm (`npm run build:wasm`, run by `npm ci` and `npm run build`).
// The module imports tfjs-backend-wasm's memory and works on its tensors in
// place; it has no data segments, stack or heap of its own.
// Loaded and registered by src/tensor/simd-kernels.ts.
export { batchMatMul } from './matmul';
export { tanh } from './tanh';
export { sumAxis } from './reduce';
export { transpose } from './transpose';
