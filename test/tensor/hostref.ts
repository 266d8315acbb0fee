/**
 * Float64 host reference implementations of the ops-layer ops, written
 * independently of the engine (plain index arithmetic, row-major), used as
 * finite-difference oracles by the gradient tests.
 */
export interface HostT {
  shape: number[];
  data: Float64Array;
}

export const host = (shape: number[], data: Float64Array): HostT => ({ shape, data });

const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

function unravel(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let i = shape.length - 1; i >= 0; i--) {
    idx[i] = flat % shape[i];
    flat = Math.floor(flat / shape[i]);
  }
  return idx;
}

function ravel(idx: readonly number[], shape: readonly number[]): number {
  let flat = 0;
  for (let i = 0; i < shape.length; i++) flat = flat * shape[i] + idx[i];
  return flat;
}

export function map(x: HostT, f: (v: number) => number): HostT {
  return host(x.shape, x.data.map(f));
}

function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  return Array.from({ length: n }, (_, i) => {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    return Math.max(da, db);
  });
}

/** Value of x at output index `idx` of a broadcast result. */
function at(x: HostT, idx: readonly number[]): number {
  const lead = idx.length - x.shape.length;
  const own = x.shape.map((d, i) => (d === 1 ? 0 : idx[lead + i]));
  return x.data[ravel(own, x.shape)];
}

export function zip(a: HostT, b: HostT, f: (x: number, y: number) => number): HostT {
  const shape = broadcastShape(a.shape, b.shape);
  const out = new Float64Array(sizeOf(shape));
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, shape);
    out[i] = f(at(a, idx), at(b, idx));
  }
  return host(shape, out);
}

export function broadcastTo(x: HostT, shape: number[]): HostT {
  const out = new Float64Array(sizeOf(shape));
  for (let i = 0; i < out.length; i++) out[i] = at(x, unravel(i, shape));
  return host(shape, out);
}

export function transpose(x: HostT, perm: number[]): HostT {
  const shape = perm.map((p) => x.shape[p]);
  const out = new Float64Array(x.data.length);
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, shape);
    const src = new Array<number>(perm.length);
    perm.forEach((p, j) => (src[p] = idx[j]));
    out[i] = x.data[ravel(src, x.shape)];
  }
  return host(shape, out);
}

const swapLast = (x: HostT): HostT => {
  const r = x.shape.length;
  const perm = Array.from({ length: r }, (_, i) => i);
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return transpose(x, perm);
};

/** op(a)·op(b) with equal batch dims, or a [..., m, k] times a matrix b [k, n]. */
export function matmul(a0: HostT, b0: HostT, transA = false, transB = false): HostT {
  const a = transA ? swapLast(a0) : a0;
  let b = transB ? swapLast(b0) : b0;
  const [m, kk] = a.shape.slice(-2);
  const n = b.shape[b.shape.length - 1];
  const batch = a.shape.slice(0, -2);
  if (b.shape.length === 2 && a.shape.length > 2) b = broadcastTo(b, [...batch, kk, n]);
  const nb = sizeOf(batch);
  const out = new Float64Array(nb * m * n);
  for (let s = 0; s < nb; s++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let l = 0; l < kk; l++) acc += a.data[s * m * kk + i * kk + l] * b.data[s * kk * n + l * n + j];
        out[s * m * n + i * n + j] = acc;
      }
    }
  }
  return host([...batch, m, n], out);
}

/** Reduce over `axes` with `f` folding values (init value `init`). */
function reduce(x: HostT, axes: number[], keepDims: boolean, init: number, f: (acc: number, v: number) => number): HostT {
  const keepShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = new Float64Array(sizeOf(keepShape)).fill(init);
  for (let i = 0; i < x.data.length; i++) {
    const idx = unravel(i, x.shape).map((v, j) => (axes.includes(j) ? 0 : v));
    const o = ravel(idx, keepShape);
    out[o] = f(out[o], x.data[i]);
  }
  return host(keepDims ? keepShape : x.shape.filter((_, i) => !axes.includes(i)), out);
}

export const sum = (x: HostT, axes: number[], keepDims = false): HostT => reduce(x, axes, keepDims, 0, (a, v) => a + v);
export const max = (x: HostT, axes: number[], keepDims = false): HostT => reduce(x, axes, keepDims, -Infinity, Math.max);

export function mean(x: HostT, axes: number[], keepDims = false): HostT {
  const count = axes.reduce((n, a) => n * x.shape[a], 1);
  return map(sum(x, axes, keepDims), (v) => v / count);
}

export function softmax(x: HostT, axis: number): HostT {
  const e = map(zip(x, max(x, [axis], true), (v, m) => v - m), Math.exp);
  return zip(e, sum(e, [axis], true), (v, s) => v / s);
}

export function logSumExp(x: HostT, axis: number, keepDims: boolean): HostT {
  const m = max(x, [axis], true);
  const s = sum(map(zip(x, m, (v, mm) => v - mm), Math.exp), [axis], true);
  const out = zip(m, s, (mm, ss) => mm + Math.log(ss));
  return keepDims ? out : host(x.shape.filter((_, i) => i !== axis), out.data);
}

export function concat(xs: HostT[], axis: number): HostT {
  const shape = [...xs[0].shape];
  shape[axis] = xs.reduce((n, x) => n + x.shape[axis], 0);
  const out = new Float64Array(sizeOf(shape));
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, shape);
    let j = 0;
    let off = idx[axis];
    while (off >= xs[j].shape[axis]) off -= xs[j++].shape[axis];
    const src = [...idx];
    src[axis] = off;
    out[i] = xs[j].data[ravel(src, xs[j].shape)];
  }
  return host(shape, out);
}

export function slice(x: HostT, begin: number[], size: number[]): HostT {
  const out = new Float64Array(sizeOf(size));
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, size).map((v, j) => v + begin[j]);
    out[i] = x.data[ravel(idx, x.shape)];
  }
  return host(size, out);
}

export function tile(x: HostT, reps: number[]): HostT {
  const shape = x.shape.map((d, i) => d * reps[i]);
  const out = new Float64Array(sizeOf(shape));
  for (let i = 0; i < out.length; i++) out[i] = x.data[ravel(unravel(i, shape).map((v, j) => v % x.shape[j]), x.shape)];
  return host(shape, out);
}

export const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));
export const silu = (v: number): number => v * sigmoid(v);
export const softplus = (v: number): number => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
export const geluTanh = (v: number): number =>
  0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
