/** The bookkeeping of GPU kernel profiles (src/tensor/gpu-profile.ts); a profiled replay on a device is checked in test/gpu. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kernelName, kernelTimes } from '../../src/tensor/gpu-profile.js';
import * as T from '../../src/tensor/index.js';

test('kernelName keeps the program and its variant, and cuts the shapes and dtypes out of a tfjs pipeline key', () => {
  assert.equal(kernelName('binary_17_4,4_float32_1024'), 'binary_17_4,4');
  assert.equal(kernelName('matMulPacked_4,4,1_false_true_64,64'), 'matMulPacked_4,4,1_false');
  assert.equal(kernelName('pad_64,1,12,2float32,float32_3'), 'pad');
  assert.equal(kernelName('pita_sum'), 'pita_sum');
  assert.equal(kernelName(`pita_fused_2:${'mul(x0,x1)'.repeat(20)}_128,1,1`).length, 100);
});

test('kernelTimes sums each kernel\'s time (ns → ms) and bytes over its dispatches, keeps its fewest threads, and sorts by time', () => {
  const shape = (kernel: string, threads: number, bytesWritten: number, bytesRead: number) => ({ kernel, workgroups: threads / 64, threads, bytesWritten, bytesRead });
  const shapes = [shape('a', 640, 400, 800), shape('b', 64, 4, 0), shape('a', 128, 40, 80), shape('c', 6400, 4000, 0)];
  const { kernels, totalMs, dispatches } = kernelTimes(shapes, [1e6, 5e6, 2e6, 0]);
  assert.deepEqual(
    dispatches.map((d) => [d.kernel, d.threads, d.ms]),
    [['a', 640, 1], ['b', 64, 5], ['a', 128, 2], ['c', 6400, 0]],
  );
  assert.deepEqual(kernels, [
    { kernel: 'b', count: 1, ms: 5, bytes: 4, minThreads: 64 },
    { kernel: 'a', count: 2, ms: 3, bytes: 1320, minThreads: 128 },
    { kernel: 'c', count: 1, ms: 0, bytes: 4000, minThreads: 6400 },
  ]);
  assert.equal(totalMs, 8);
});

test('on the CPU a captured step runs eagerly and has no kernels to profile', async () => {
  await T.initTensorBackend('cpu');
  const step = T.captureStep({ inputs: [[3]], state: () => [], step: ([x]) => [T.sum(T.square(x))] });
  assert.equal(step.replaying, false);
  assert.equal(await step.profile([Float32Array.from([1, 2, 3])]), null);
  assert.deepEqual([...(await step.run([Float32Array.from([1, 2, 3])]))[0]], [14]);
  step.dispose();
});
