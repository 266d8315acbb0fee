// C = op(A)·B for row-major float32 matrices, op(A) = A or Aᵀ, on the tfjs
// wasm heap (this module imports that memory; every pointer argument is a byte
// address on it). SIMD: 4 × 8 register tiles of f32x4 multiply-adds over
// panels of KC rows of B, then 4- and 1-wide edges. Registered by
// src/tensor/simd-kernels.ts for every float32 BatchMatMul
// (docs/tensor-engine.md §2.11).
//
// A's element (i, p) of op(A) is read at a + i·rowStride + p·colStride bytes:
// (4k, 4) for A [m, k], (4, 4m) for Aᵀ with A stored [k, m]; the four rows of a
// tile are read as scalars either way, so Aᵀ costs nothing extra.

/** Rows of B per panel, so that a panel of B stays in the L1/L2 cache across a row of tiles. */
const KC: i32 = 256;

/**
 * C_t[m, n] = op(A_t)[m, k] · B_t[k, n] for t < batch, where A_t starts aStep
 * elements after A_{t-1} and B_t bStep after B_{t-1} (0 broadcasts one
 * matrix over the batch); the C_t are consecutive. op(A) = Aᵀ when
 * transposeA (A_t stored [k, m]). C is overwritten.
 */
export function batchMatMul(
  a: usize, b: usize, c: usize, batch: i32, m: i32, k: i32, n: i32, aStep: i32, bStep: i32, transposeA: bool,
): void {
  const aStride = <usize>aStep << 2;
  const bStride = <usize>bStep << 2;
  const cStride = <usize>(m * n) << 2;
  const rowStride: usize = transposeA ? 4 : <usize>k << 2;
  const colStride: usize = transposeA ? <usize>m << 2 : 4;
  for (let t = 0; t < batch; t++) {
    if (n == 1 && !transposeA) matVec(a, b, c, m, k);
    else if (n == 1) matMul(b, 4, 4, a, c, 1, k, m); // Aᵀ·b = (bᵀ·A)ᵀ, one row
    else matMul(a, rowStride, colStride, b, c, m, k, n);
    a += aStride;
    b += bStride;
    c += cStride;
  }
}

/** c[m] = A[m, k] · b[k]: dot products along the contiguous rows of A. */
function matVec(a: usize, b: usize, c: usize, m: i32, k: i32): void {
  const k4 = k & ~3;
  for (let i = 0; i < m; i++) {
    const row = a + (<usize>(i * k) << 2);
    let acc = f32x4.splat(0);
    let p = 0;
    for (; p < k4; p += 4) {
      acc = f32x4.add(acc, f32x4.mul(v128.load(row + (<usize>p << 2)), v128.load(b + (<usize>p << 2))));
    }
    let s: f32 =
      f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
    for (; p < k; p++) s += load<f32>(row + (<usize>p << 2)) * load<f32>(b + (<usize>p << 2));
    store<f32>(c + (<usize>i << 2), s);
  }
}

/** C = A·B (A's element (i, p) at a + i·rs + p·cs): panels of KC rows of B; 4 × 8 tiles, then the edges. */
function matMul(a: usize, rs: usize, cs: usize, b: usize, c: usize, m: i32, k: i32, n: i32): void {
  memory.fill(c, 0, <usize>(m * n) << 2);
  const m4 = m & ~3;
  const n8 = n & ~7;
  const n4 = n & ~3;
  const bRow = <usize>n << 2;
  for (let p0 = 0; p0 < k; p0 += KC) {
    const len = min(p0 + KC, k) - p0;
    let i = 0;
    for (; i < m4; i += 4) {
      const ap = a + <usize>i * rs + <usize>p0 * cs;
      let j = 0;
      for (; j < n8; j += 8) tile4x8(ap, rs, cs, at(b, p0 * n + j), bRow, at(c, i * n + j), bRow, len);
      for (; j < n4; j += 4) tile4x4(ap, rs, cs, at(b, p0 * n + j), bRow, at(c, i * n + j), bRow, len);
      for (; j < n; j++) {
        for (let r = 0; r < 4; r++) dot(ap + <usize>r * rs, cs, at(b, p0 * n + j), bRow, at(c, (i + r) * n + j), len);
      }
    }
    for (; i < m; i++) {
      const ap = a + <usize>i * rs + <usize>p0 * cs;
      let j = 0;
      for (; j < n8; j += 8) tile1x8(ap, cs, at(b, p0 * n + j), bRow, at(c, i * n + j), len);
      for (; j < n4; j += 4) tile1x4(ap, cs, at(b, p0 * n + j), bRow, at(c, i * n + j), len);
      for (; j < n; j++) dot(ap, cs, at(b, p0 * n + j), bRow, at(c, i * n + j), len);
    }
  }
}

// @ts-ignore: decorator
@inline function at(base: usize, index: i32): usize {
  return base + (<usize>index << 2);
}

// The tiles: C[4 or 1 rows, 8 or 4 columns] += A-rows (first element at ap, rows rs apart, columns
// cs apart) · B-panel (first element at bp, rows bRow bytes apart), over len steps of p; C rows are
// cRow bytes apart.

function tile4x8(ap: usize, rs: usize, cs: usize, bp: usize, bRow: usize, c0: usize, cRow: usize, len: i32): void {
  const c1 = c0 + cRow;
  const c2 = c1 + cRow;
  const c3 = c2 + cRow;
  let x0 = v128.load(c0), y0 = v128.load(c0, 16);
  let x1 = v128.load(c1), y1 = v128.load(c1, 16);
  let x2 = v128.load(c2), y2 = v128.load(c2, 16);
  let x3 = v128.load(c3), y3 = v128.load(c3, 16);
  for (let p = 0; p < len; p++) {
    const u = v128.load(bp);
    const v = v128.load(bp, 16);
    let s = f32x4.splat(load<f32>(ap));
    x0 = f32x4.add(x0, f32x4.mul(s, u));
    y0 = f32x4.add(y0, f32x4.mul(s, v));
    s = f32x4.splat(load<f32>(ap + rs));
    x1 = f32x4.add(x1, f32x4.mul(s, u));
    y1 = f32x4.add(y1, f32x4.mul(s, v));
    s = f32x4.splat(load<f32>(ap + 2 * rs));
    x2 = f32x4.add(x2, f32x4.mul(s, u));
    y2 = f32x4.add(y2, f32x4.mul(s, v));
    s = f32x4.splat(load<f32>(ap + 3 * rs));
    x3 = f32x4.add(x3, f32x4.mul(s, u));
    y3 = f32x4.add(y3, f32x4.mul(s, v));
    ap += cs;
    bp += bRow;
  }
  v128.store(c0, x0); v128.store(c0, y0, 16);
  v128.store(c1, x1); v128.store(c1, y1, 16);
  v128.store(c2, x2); v128.store(c2, y2, 16);
  v128.store(c3, x3); v128.store(c3, y3, 16);
}

function tile4x4(ap: usize, rs: usize, cs: usize, bp: usize, bRow: usize, c0: usize, cRow: usize, len: i32): void {
  const c1 = c0 + cRow;
  const c2 = c1 + cRow;
  const c3 = c2 + cRow;
  let x0 = v128.load(c0), x1 = v128.load(c1), x2 = v128.load(c2), x3 = v128.load(c3);
  for (let p = 0; p < len; p++) {
    const u = v128.load(bp);
    x0 = f32x4.add(x0, f32x4.mul(f32x4.splat(load<f32>(ap)), u));
    x1 = f32x4.add(x1, f32x4.mul(f32x4.splat(load<f32>(ap + rs)), u));
    x2 = f32x4.add(x2, f32x4.mul(f32x4.splat(load<f32>(ap + 2 * rs)), u));
    x3 = f32x4.add(x3, f32x4.mul(f32x4.splat(load<f32>(ap + 3 * rs)), u));
    ap += cs;
    bp += bRow;
  }
  v128.store(c0, x0); v128.store(c1, x1); v128.store(c2, x2); v128.store(c3, x3);
}

function tile1x8(ap: usize, cs: usize, bp: usize, bRow: usize, c0: usize, len: i32): void {
  let x0 = v128.load(c0), y0 = v128.load(c0, 16);
  for (let p = 0; p < len; p++) {
    const s = f32x4.splat(load<f32>(ap));
    x0 = f32x4.add(x0, f32x4.mul(s, v128.load(bp)));
    y0 = f32x4.add(y0, f32x4.mul(s, v128.load(bp, 16)));
    ap += cs;
    bp += bRow;
  }
  v128.store(c0, x0); v128.store(c0, y0, 16);
}

function tile1x4(ap: usize, cs: usize, bp: usize, bRow: usize, c0: usize, len: i32): void {
  let x0 = v128.load(c0);
  for (let p = 0; p < len; p++) {
    x0 = f32x4.add(x0, f32x4.mul(f32x4.splat(load<f32>(ap)), v128.load(bp)));
    ap += cs;
    bp += bRow;
  }
  v128.store(c0, x0);
}

/** C[i, j] += A-row · B-column, one element. */
function dot(ap: usize, cs: usize, bp: usize, bRow: usize, cp: usize, len: i32): void {
  let s: f32 = 0;
  for (let p = 0; p < len; p++) {
    s += load<f32>(ap) * load<f32>(bp);
    ap += cs;
    bp += bRow;
  }
  store<f32>(cp, load<f32>(cp) + s);
}
