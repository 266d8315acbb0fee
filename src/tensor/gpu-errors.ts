/**
 * WebGPU failures as errors. A WebGPU call that fails (an invalid pipeline,
 * a bind group over the device's limits, a buffer it cannot allocate) does
 * not throw: the device reports it as an event and the work that needed it
 * does nothing, so every later result would be silently wrong. Measured:
 * a fused kernel with 9 storage buffers (the limit is 8) gave a DiT step
 * whose loss was read back as a number. Here the first such report, or the
 * device's loss, is kept, and every read back to the host (`read`, a
 * captured step's outputs) throws it instead of returning values.
 */
export class GpuError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GpuError';
  }
}

let failure: string | null = null;

const firstLine = (s: string): string => s.split('\n')[0];

/** Keeps the first error `device` reports, and its loss. */
export function watchDevice(device: GPUDevice): void {
  device.addEventListener('uncapturederror', (ev) => {
    failure ??= `${firstLine((ev as GPUUncapturedErrorEvent).error.message)}`;
  });
  void device.lost.then((info) => {
    failure ??= `the device was lost (${info.reason}): ${firstLine(info.message)}`;
  });
}

/** Throws the device's first error, if it reported one: nothing computed since can be trusted. */
export function throwIfGpuFailed(): void {
  if (failure !== null) throw new GpuError(`WebGPU failed, so results are not valid: ${failure}`);
}

/** Forgets a reported error (tests that provoke one on purpose). */
export function clearGpuFailure(): void {
  failure = null;
}
