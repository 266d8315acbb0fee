/** How pita's WebGPU matmul cuts a long inner dimension (src/tensor/webgpu-matmul.ts); the products themselves are checked in test/gpu. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SPLIT_MIN_CHUNK, SPLIT_TARGET_WORKGROUPS, splitCount } from '../../src/tensor/webgpu-matmul.js';
import {
  AUTO,
  DEFAULT_VARIANT,
  GEMM_VARIANTS,
  type GemmCase,
  gemmBlocks,
  gemmSetting,
  gemmTuning,
  gemmWorkgroupBytes,
  takesGemm,
  tunedGemms,
  variantFor,
  variantsThatFit,
  wantsTuning,
} from '../../src/tensor/webgpu-gemm.js';

/**
 * Workgroups of a product's output in tfjs's units (64 threads): its 32×32 tiles, or 4 per block of pita's
 * tiled kernel (256 threads), whose target of 256 blocks is then SPLIT_TARGET_WORKGROUPS (1024) units.
 */
const units = (M: number, N: number) => (takesGemm(M, N) ? gemmBlocks(M, N) * 4 : Math.ceil(M / 32) * Math.ceil(N / 32));

/** `f` with the environment variable `name` set to `value` (unset: undefined), restored after. */
function withEnv(name: string, value: string | undefined, f: () => void): void {
  const saved = process.env[name];
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  try {
    f();
  } finally {
    if (saved === undefined) delete process.env[name];
    else process.env[name] = saved;
  }
}

/** `f` with every product on tfjs's kernels (PITA_MATMUL=tfjs). */
const onTfjsKernels = (f: () => void): void => withEnv('PITA_MATMUL', 'tfjs', f);

const checkSplits = () => {
  // The DiT's weight gradients at B = 2048 (K = 2048·22), the EGNN's at B = 512 (K = 512·169), and others.
  for (const [M, N, K] of [[192, 192, 45056], [768, 192, 45056], [192, 768, 45056], [32, 32, 86528], [32, 32, 6656], [40, 24, 4096]]) {
    const S = splitCount(M, N, K);
    assert.ok(S >= 2, `[${M}, ${N}], K ${K}: not split`);
    assert.equal(K % S, 0);
    assert.ok(K / S >= SPLIT_MIN_CHUNK, `[${M}, ${N}], K ${K}: chunks of ${K / S}`);
    assert.ok(units(M, N) * S <= SPLIT_TARGET_WORKGROUPS + units(M, N), `[${M}, ${N}], K ${K}: ${units(M, N) * S} workgroups`);
  }
  // Outputs with enough tiles, short K, or K without a divisor in range are not split.
  assert.equal(splitCount(45056, 192, 192), 1);
  assert.equal(splitCount(2048, 2048, 100000), 1);
  assert.equal(splitCount(32, 32, 511), 1);
  assert.equal(splitCount(20, 20, 2003), 1);
};

test('splitCount: S divides K, leaves chunks of ≥ SPLIT_MIN_CHUNK, and brings the workgroups up to about the target', () => {
  checkSplits();
  // On pita's tiled kernel the DiT's 192×192 output is 4 blocks: 64 chunks, 256 blocks; 768×192, 12 blocks: 22 chunks.
  assert.equal(splitCount(192, 192, 45056), 64);
  assert.equal(splitCount(768, 192, 45056), 22);
  // An output with enough blocks for the tiled kernel is not split (B = 512: dy·Wᵀ is [11264, 192] with K 768, 176 blocks).
  assert.equal(splitCount(11264, 192, 768), 1);
  // The EGNN's 32×32 outputs stay on tfjs's kernel: 1 tile wants 1024 chunks, limited to 86528 / 256 = 338.
  assert.equal(splitCount(32, 32, 86528), 338);
});

test('splitCount on tfjs kernels (PITA_MATMUL=tfjs): counted in its 32×32 tiles', () => {
  onTfjsKernels(() => {
    checkSplits();
    assert.equal(splitCount(192, 192, 45056), 22, 'DiT 192×192: 36 tiles want 29 chunks; the largest divisor of 45056 = 2¹²·11 up to 29 is 22');
  });
});

test('PITA_GEMM: unset or auto times the variants of products of at least gemmTuning.minFlop, once per device; a variant by name times nothing', () => {
  const product = (M: number, N: number, K: number): GemmCase => ({ key: `${M}x${N}x${K}`, shape: { batch: 1, M, N, K, transposeA: false, transposeB: false, bias: 'none' }, inputs: [[M, K], [K, N]] });
  const device = {};
  // The DiT's MLP product at B = 2048 (45 056 tokens: 13.3 GFLOP) and at 8 samples (0.05 GFLOP, under the 0.5 GFLOP limit).
  const large = product(45056, 768, 192);
  const small = product(176, 768, 192);
  assert.equal(gemmTuning.minFlop, 5e8);
  for (const setting of [undefined, AUTO]) {
    withEnv('PITA_GEMM', setting, () => {
      assert.equal(gemmSetting(), AUTO);
      assert.equal(wantsTuning(device, large), true);
      assert.equal(wantsTuning(device, small), false);
    });
  }
  withEnv('PITA_GEMM', 'tile64', () => {
    assert.equal(gemmSetting(), 'tile64');
    assert.equal(wantsTuning(device, large), false);
  });
  // Timed once: a product this device has a timing for is not timed again (another device's timings are its own).
  tunedGemms(device).set(large.key, { shape: large.shape, variant: 'tile64', ms: {}, timer: 'none' } as never);
  withEnv('PITA_GEMM', undefined, () => {
    assert.equal(wantsTuning(device, large), false);
    assert.equal(wantsTuning({}, large), true);
  });
  withEnv('PITA_GEMM', 'tile_64', () => assert.throws(() => gemmSetting(), /^UserError: PITA_GEMM: unknown variant 'tile_64'; valid: blocked128x64, .*, auto$/));
  assert.ok(DEFAULT_VARIANT in GEMM_VARIANTS && Object.keys(GEMM_VARIANTS)[0] === DEFAULT_VARIANT, 'the default is listed first (ties in a timing keep it)');
});

test("variants whose tiles exceed a GPU's workgroup memory are not timed there, and naming one in PITA_GEMM is a one-line error", () => {
  // (128 + 4) + (64 + 4) floats per k of the two tiles, 8 k's, 4 bytes: 6400; two tiles of each (…vd) twice that; 128×128 blocks with 16 k's 16 896; 64×64 blocks (tile64) 4352.
  assert.deepEqual(['blocked128x64', 'blocked128x64vd', 'blocked128', 'strided128vd', 'strided128k16', 'tile64'].map(gemmWorkgroupBytes), [6400, 12800, 8448, 16896, 16896, 4352]);
  const all = Object.keys(GEMM_VARIANTS);
  // WebGPU's guaranteed 16 KiB leaves out the three that take 16 896 bytes; lavapipe's and NVIDIA's 32 KiB and more leave out none.
  assert.deepEqual(all.filter((v) => !variantsThatFit(all, 16384).includes(v)), ['strided128k16', 'strided128k16v', 'strided128vd']);
  assert.deepEqual(variantsThatFit(all, 32768), all);
  const small = { limits: { maxComputeWorkgroupStorageSize: 16384 } };
  withEnv('PITA_GEMM', 'strided128vd', () => {
    assert.throws(() => variantFor(small, 'k'), /^UserError: PITA_GEMM=strided128vd needs 16896 bytes of workgroup memory and this GPU allows 16384; valid here: blocked128x64, .*, auto$/);
    assert.equal(variantFor({ limits: { maxComputeWorkgroupStorageSize: 32768 } }, 'k'), 'strided128vd');
  });
  withEnv('PITA_GEMM', 'blocked128x64vd', () => assert.equal(variantFor(small, 'k'), 'blocked128x64vd'));
});
