// Sum over one block of adjacent axes of a row-major float32 tensor, viewed
// as [outer, r, inner] and reduced over r: y[o, i] = Σ_j x[o, j, i]. Replaces
// the stock wasm Sum, which transposes the reduced axes to the end first
// (docs/tensor-engine.md §2.11). Pointers are byte addresses on the shared heap.

/** y[outer, inner] = Σ over r of x[outer, r, inner]; y is overwritten. */
export function sumAxis(x: usize, y: usize, outer: i32, r: i32, inner: i32): void {
  if (inner == 1) {
    for (let o = 0; o < outer; o++) store<f32>(y + (<usize>o << 2), sumRow(x + (<usize>(o * r) << 2), r));
    return;
  }
  const inner4 = inner & ~3;
  const plane = <usize>(r * inner) << 2;
  const row = <usize>inner << 2;
  for (let o = 0; o < outer; o++) {
    const xo = x + <usize>o * plane;
    const yo = y + (<usize>(o * inner) << 2);
    let i = 0;
    for (; i + 16 <= inner; i += 16) sumColumns16(xo + (<usize>i << 2), yo + (<usize>i << 2), r, row);
    for (; i < inner4; i += 4) {
      let a = f32x4.splat(0);
      let p = xo + (<usize>i << 2);
      for (let j = 0; j < r; j++) {
        a = f32x4.add(a, v128.load(p));
        p += row;
      }
      v128.store(yo + (<usize>i << 2), a);
    }
    for (; i < inner; i++) {
      let s: f32 = 0;
      let p = xo + (<usize>i << 2);
      for (let j = 0; j < r; j++) {
        s += load<f32>(p);
        p += row;
      }
      store<f32>(yo + (<usize>i << 2), s);
    }
  }
}

/** y[0..16] = Σ_j x[j·row .. j·row + 16]: four vector accumulators down the rows. */
function sumColumns16(x: usize, y: usize, r: i32, row: usize): void {
  let a = f32x4.splat(0), b = f32x4.splat(0), c = f32x4.splat(0), d = f32x4.splat(0);
  for (let j = 0; j < r; j++) {
    a = f32x4.add(a, v128.load(x));
    b = f32x4.add(b, v128.load(x, 16));
    c = f32x4.add(c, v128.load(x, 32));
    d = f32x4.add(d, v128.load(x, 48));
    x += row;
  }
  v128.store(y, a); v128.store(y, b, 16); v128.store(y, c, 32); v128.store(y, d, 48);
}

/** Σ of n contiguous floats: four lanes, lanes added at the end, then the tail. */
function sumRow(x: usize, n: i32): f32 {
  const n4 = n & ~3;
  let a = f32x4.splat(0);
  let j = 0;
  for (; j < n4; j += 4) a = f32x4.add(a, v128.load(x + (<usize>j << 2)));
  let s: f32 = f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 1) + f32x4.extract_lane(a, 2) + f32x4.extract_lane(a, 3);
  for (; j < n; j++) s += load<f32>(x + (<usize>j << 2));
  return s;
}
