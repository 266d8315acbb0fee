/** How pita's WebGPU matmul cuts a long inner dimension (src/tensor/webgpu-matmul.ts); the products themselves are checked in test/gpu. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SPLIT_MIN_CHUNK, SPLIT_TARGET_WORKGROUPS, splitCount } from '../../src/tensor/webgpu-matmul.js';

const tiles = (M: number, N: number) => Math.ceil(M / 32) * Math.ceil(N / 32);

test('splitCount: S divides K, leaves chunks of ≥ SPLIT_MIN_CHUNK, and brings the workgroups up to about the target', () => {
  // The DiT's weight gradients at B = 2048 (K = 2048·22), the EGNN's at B = 512 (K = 512·169), and others.
  for (const [M, N, K] of [[192, 192, 45056], [768, 192, 45056], [192, 768, 45056], [32, 32, 86528], [32, 32, 6656], [40, 24, 4096]]) {
    const S = splitCount(M, N, K);
    assert.ok(S >= 2, `[${M}, ${N}], K ${K}: not split`);
    assert.equal(K % S, 0);
    assert.ok(K / S >= SPLIT_MIN_CHUNK, `[${M}, ${N}], K ${K}: chunks of ${K / S}`);
    assert.ok(tiles(M, N) * S <= SPLIT_TARGET_WORKGROUPS + tiles(M, N), `[${M}, ${N}], K ${K}: ${tiles(M, N) * S} workgroups`);
  }
  assert.equal(splitCount(192, 192, 45056), 22, 'DiT 192×192: 36 tiles want 29 chunks; the largest divisor of 45056 = 2¹²·11 up to 29 is 22');
  // Outputs with enough tiles, short K, or K without a divisor in range are not split.
  assert.equal(splitCount(45056, 192, 192), 1);
  assert.equal(splitCount(2048, 2048, 100000), 1);
  assert.equal(splitCount(32, 32, 511), 1);
  assert.equal(splitCount(20, 20, 2003), 1);
});
