/**
 * The tensor-engine spec §6.1 reference problem: a SiLU MLP energy
 *   E(x,t) = w3·silu(W2ᵀ silu(W1ᵀ[x,t] + b1) + b2) + b3
 * with loss L = mean_b ‖−∂E/∂x − target_b‖², its deterministic data, a float64
 * analytic oracle for L, ∂E/∂t and ∂L/∂θ (exact double backprop by hand), and
 * the same model on the ops layer.
 */
import * as T from '../../src/tensor/index.js';

export interface MlpSizes {
  B: number;
  D: number;
  H: number;
}

export interface MlpParams {
  W1: Float64Array; // [D+1, H]
  b1: Float64Array; // [H]
  W2: Float64Array; // [H, H]
  b2: Float64Array; // [H]
  w3: Float64Array; // [H, 1]
  b3: Float64Array; // [1]
}

export const PARAM_NAMES = ['W1', 'b1', 'W2', 'b2', 'w3', 'b3'] as const;

export interface MlpData {
  x: Float64Array; // [B, D]
  t: Float64Array; // [B]
  target: Float64Array; // [B, D]
}

/**
 * mulberry32, the PRNG the spec's reference numbers were generated with. Used
 * only to reproduce those fixtures; pita's randomness comes from core/rng.
 */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The spec's normals: √(−2 ln max(u₁, 1e−12))·cos(2πu₂), one per two uniforms. */
function normals(u: () => number, n: number, std: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u1 = u();
    const u2 = u();
    out[i] = std * Math.sqrt(-2 * Math.log(Math.max(u1, 1e-12))) * Math.cos(2 * Math.PI * u2);
  }
  return out;
}

/**
 * Parameters (seed 1) and data (seed 2) exactly as spec §6.1; by default
 * rounded to float32, i.e. the values the engine sees.
 */
export function specProblem({ B, D, H }: MlpSizes, roundToF32 = true): { params: MlpParams; data: MlpData } {
  const f32 = (a: Float64Array): Float64Array => (roundToF32 ? a.map(Math.fround) : a);
  const up = mulberry32(1);
  const params: MlpParams = {
    W1: f32(normals(up, (D + 1) * H, 1 / Math.sqrt(D + 1))),
    b1: f32(normals(up, H, 0.1)),
    W2: f32(normals(up, H * H, 1 / Math.sqrt(H))),
    b2: f32(normals(up, H, 0.1)),
    w3: f32(normals(up, H, 1 / Math.sqrt(H))),
    b3: f32(normals(up, 1, 0.1)),
  };
  const ud = mulberry32(2);
  const x = f32(normals(ud, B * D, 1));
  const t = new Float64Array(B);
  for (let i = 0; i < B; i++) t[i] = ud();
  f32(t).forEach((v, i) => (t[i] = v));
  const target = f32(normals(ud, B * D, 1));
  return { params, data: { x, t, target } };
}

const sig = (a: number): number => 1 / (1 + Math.exp(-a));
const silu = (a: number): number => a * sig(a);
const silu1 = (a: number): number => sig(a) * (1 + a * (1 - sig(a)));
const silu2 = (a: number): number => sig(a) * (1 - sig(a)) * (2 + a * (1 - 2 * sig(a)));

/** Float64 oracle: loss, ∂E/∂t per sample, ∂E/∂x, and ∂loss/∂θ by exact hand-written double backprop. */
export function oracle(
  p: MlpParams,
  d: MlpData,
  { B, D, H }: MlpSizes,
): { loss: number; dEdt: Float64Array; dEdx: Float64Array; grads: MlpParams } {
  const g: MlpParams = {
    W1: new Float64Array((D + 1) * H),
    b1: new Float64Array(H),
    W2: new Float64Array(H * H),
    b2: new Float64Array(H),
    w3: new Float64Array(H),
    b3: new Float64Array(1),
  };
  const dEdt = new Float64Array(B);
  const dEdx = new Float64Array(B * D);
  let loss = 0;
  const a1 = new Float64Array(H), a2 = new Float64Array(H), h1 = new Float64Array(H);
  const g1 = new Float64Array(H), g2 = new Float64Array(H), q = new Float64Array(H);
  const gz = new Float64Array(D + 1), r = new Float64Array(D), z = new Float64Array(D + 1);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < D; i++) z[i] = d.x[b * D + i];
    z[D] = d.t[b];
    // forward
    for (let j = 0; j < H; j++) {
      let s = p.b1[j];
      for (let i = 0; i <= D; i++) s += z[i] * p.W1[i * H + j];
      a1[j] = s;
      h1[j] = silu(s);
    }
    for (let j = 0; j < H; j++) {
      let s = p.b2[j];
      for (let i = 0; i < H; i++) s += h1[i] * p.W2[i * H + j];
      a2[j] = s;
    }
    // first backward: ∂E/∂z
    for (let j = 0; j < H; j++) g2[j] = p.w3[j] * silu1(a2[j]);
    for (let i = 0; i < H; i++) {
      let s = 0;
      for (let j = 0; j < H; j++) s += p.W2[i * H + j] * g2[j];
      q[i] = s;
      g1[i] = s * silu1(a1[i]);
    }
    for (let i = 0; i <= D; i++) {
      let s = 0;
      for (let j = 0; j < H; j++) s += p.W1[i * H + j] * g1[j];
      gz[i] = s;
    }
    dEdt[b] = gz[D];
    for (let i = 0; i < D; i++) {
      dEdx[b * D + i] = gz[i];
      const e = gz[i] + d.target[b * D + i]; // −∂E/∂x − target = −(G + τ)
      loss += (e * e) / B;
      r[i] = (2 * e) / B;
    }
    // second backward: ∂loss/∂θ through G = W1[:D]·g1
    const gb1 = new Float64Array(H), a1b = new Float64Array(H), qb = new Float64Array(H);
    for (let j = 0; j < H; j++) {
      let s = 0;
      for (let i = 0; i < D; i++) {
        g.W1[i * H + j] += r[i] * g1[j];
        s += p.W1[i * H + j] * r[i];
      }
      gb1[j] = s;
      qb[j] = s * silu1(a1[j]);
      a1b[j] = s * q[j] * silu2(a1[j]);
    }
    const a2b = new Float64Array(H);
    for (let j = 0; j < H; j++) {
      let s = 0;
      for (let i = 0; i < H; i++) {
        g.W2[i * H + j] += qb[i] * g2[j];
        s += p.W2[i * H + j] * qb[i];
      }
      g.w3[j] += s * silu1(a2[j]);
      a2b[j] = s * p.w3[j] * silu2(a2[j]);
      g.b2[j] += a2b[j];
    }
    for (let i = 0; i < H; i++) {
      let s = 0;
      for (let j = 0; j < H; j++) {
        g.W2[i * H + j] += h1[i] * a2b[j];
        s += p.W2[i * H + j] * a2b[j];
      }
      a1b[i] += s * silu1(a1[i]);
    }
    for (let j = 0; j < H; j++) {
      for (let i = 0; i <= D; i++) g.W1[i * H + j] += z[i] * a1b[j];
      g.b1[j] += a1b[j];
    }
  }
  return { loss, dEdt, dEdx, grads: g };
}

/** The energy E(x,t) per sample, float64 (for finite-difference checks of the oracle). */
export function energy(p: MlpParams, x: Float64Array, t: Float64Array, { B, D, H }: MlpSizes): Float64Array {
  const out = new Float64Array(B);
  const h1 = new Float64Array(H);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < H; j++) {
      let s = p.b1[j] + t[b] * p.W1[D * H + j];
      for (let i = 0; i < D; i++) s += x[b * D + i] * p.W1[i * H + j];
      h1[j] = silu(s);
    }
    let e = p.b3[0];
    for (let j = 0; j < H; j++) {
      let s = p.b2[j];
      for (let i = 0; i < H; i++) s += h1[i] * p.W2[i * H + j];
      e += p.w3[j] * silu(s);
    }
    out[b] = e;
  }
  return out;
}

/** Store the parameters in a ParamStore under PARAM_NAMES. */
export function paramStore(p: MlpParams, { D, H }: MlpSizes): T.ParamStore {
  const store = new T.ParamStore();
  const shapes: Record<(typeof PARAM_NAMES)[number], number[]> = {
    W1: [D + 1, H],
    b1: [H],
    W2: [H, H],
    b2: [H],
    w3: [H, 1],
    b3: [1],
  };
  for (const name of PARAM_NAMES) store.add(name, shapes[name], { kind: 'values', data: p[name] });
  return store;
}

/** E(x,t) [B,1] on the ops layer, with a chosen SiLU implementation. */
export function engineEnergy(store: T.ParamStore, x: T.Tensor, t: T.Tensor, act: (a: T.Tensor) => T.Tensor): T.Tensor {
  const z = T.concat([x, t], 1);
  const h1 = act(T.add(T.matmul(z, store.get('W1')), store.get('b1')));
  const h2 = act(T.add(T.matmul(h1, store.get('W2')), store.get('b2')));
  return T.add(T.matmul(h2, store.get('w3')), store.get('b3'));
}

/** The spec's loss mean_b ‖−∂E/∂x − target‖² on the ops layer (second order in θ when differentiated). */
export function engineLoss(
  store: T.ParamStore,
  x: T.Tensor,
  t: T.Tensor,
  target: T.Tensor,
  act: (a: T.Tensor) => T.Tensor,
): T.Tensor {
  const dEdx = T.grad((xi) => T.sum(engineEnergy(store, xi, t, act)), x);
  const B = T.shapeOf(x)[0];
  return T.div(T.sum(T.square(T.sub(T.neg(dEdx), target))), B);
}
