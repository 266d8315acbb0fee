/**
 * WebGPU's buffer usage flags (the values of GPUBufferUsage in the WebGPU standard). The global
 * `GPUBufferUsage` exists only once Dawn is loaded, and modules that name these flags load on the CPU too.
 */
export const MAP_READ = 0x0001;
export const MAP_WRITE = 0x0002;
export const COPY_SRC = 0x0004;
export const COPY_DST = 0x0008;
export const UNIFORM = 0x0040;
export const STORAGE = 0x0080;
export const QUERY_RESOLVE = 0x0200;
