// Batched 2-D transpose of float32/int32 matrices (both 4 bytes): y_t = x_tᵀ for
// t < batch, x_t [m, n] row-major. 4 × 4 tiles moved with lane shuffles, 32
// input rows per block so that each output row is written in runs of 128 bytes
// (the stock kernel writes a column at a time and misses at every write when
// m·4 is a multiple of 1 KiB, docs/tensor-engine.md §2.10). Pointers are byte
// addresses on the shared heap.

const BLOCK: i32 = 32;

export function transpose(x: usize, y: usize, batch: i32, m: i32, n: i32): void {
  const size = <usize>(m * n) << 2;
  for (let t = 0; t < batch; t++) {
    transpose2d(x, y, m, n);
    x += size;
    y += size;
  }
}

function transpose2d(x: usize, y: usize, m: i32, n: i32): void {
  const m4 = m & ~3;
  const n4 = n & ~3;
  const xRow = <usize>n << 2;
  const yRow = <usize>m << 2;
  for (let i0 = 0; i0 < m4; i0 += BLOCK) {
    const i1 = min(i0 + BLOCK, m4);
    let j = 0;
    for (; j < n4; j += 4) {
      for (let i = i0; i < i1; i += 4) {
        const src = x + <usize>i * xRow + (<usize>j << 2);
        const a = v128.load(src);
        const b = v128.load(src + xRow);
        const c = v128.load(src + 2 * xRow);
        const d = v128.load(src + 3 * xRow);
        // [a0 b0 a1 b1], [a2 b2 a3 b3], [c0 d0 c1 d1], [c2 d2 c3 d3]
        const ab01 = i32x4.shuffle(a, b, 0, 4, 1, 5);
        const ab23 = i32x4.shuffle(a, b, 2, 6, 3, 7);
        const cd01 = i32x4.shuffle(c, d, 0, 4, 1, 5);
        const cd23 = i32x4.shuffle(c, d, 2, 6, 3, 7);
        const dst = y + <usize>j * yRow + (<usize>i << 2);
        v128.store(dst, i32x4.shuffle(ab01, cd01, 0, 1, 4, 5));
        v128.store(dst + yRow, i32x4.shuffle(ab01, cd01, 2, 3, 6, 7));
        v128.store(dst + 2 * yRow, i32x4.shuffle(ab23, cd23, 0, 1, 4, 5));
        v128.store(dst + 3 * yRow, i32x4.shuffle(ab23, cd23, 2, 3, 6, 7));
      }
    }
    for (; j < n; j++) {
      for (let i = i0; i < i1; i++) store<u32>(y + <usize>j * yRow + (<usize>i << 2), load<u32>(x + <usize>i * xRow + (<usize>j << 2)));
    }
  }
  for (let i = m4; i < m; i++) {
    for (let j = 0; j < n; j++) store<u32>(y + <usize>j * yRow + (<usize>i << 2), load<u32>(x + <usize>i * xRow + (<usize>j << 2)));
  }
}
