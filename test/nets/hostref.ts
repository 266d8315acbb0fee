/**
 * Float64 host reference implementations of the networks, one row at a time,
 * written independently of src/nets from the algorithm spec §3.2–3.3 (plain
 * loops, the unsplit concatenated inputs of the reference, RoPE by the
 * torchtune pair formula), used as finite-difference oracles by the tests.
 *
 * Parameters are read by name; weights are [fanIn, fanOut] row-major.
 */
import type { ParamStore } from '../../src/tensor/index.js';

export type HostParams = Map<string, Float64Array>;

export function hostParams(store: ParamStore): HostParams {
  return new Map(store.names().map((n) => [n, Float64Array.from(store.readSync(n))]));
}

function get(p: HostParams, name: string): Float64Array {
  const v = p.get(name);
  if (v === undefined) throw new Error(`host reference: missing param '${name}'`);
  return v;
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));
const silu = (v: number): number => v * sigmoid(v);
const gelu = (v: number): number => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));

/** y = x·W + b for W [nIn, nOut] (bias optional). */
function linear(p: HostParams, w: string, b: string | null, x: ArrayLike<number>, nOut: number): Float64Array {
  const W = get(p, w);
  const nIn = x.length;
  if (W.length !== nIn * nOut) throw new Error(`host linear ${w}: ${W.length} weights for ${nIn}×${nOut}`);
  const y = b === null ? new Float64Array(nOut) : Float64Array.from(get(p, b));
  for (let i = 0; i < nIn; i++) for (let o = 0; o < nOut; o++) y[o] += x[i] * W[i * nOut + o];
  return y;
}

const mapv = (x: Float64Array, f: (v: number) => number): Float64Array => x.map(f);

// ---------------------------------------------------------------- MLP

export interface HostMlp {
  dim: number;
  hidden: number;
  layers: number;
  timeEmbedding: number;
}

function sinusoid(s: number, dim: number, maxPeriod = 10000): Float64Array {
  const half = dim / 2;
  const e = new Float64Array(dim);
  for (let k = 0; k < half; k++) {
    const f = Math.exp((-Math.log(maxPeriod) * k) / half);
    e[k] = Math.cos(s * f);
    e[half + k] = Math.sin(s * f);
  }
  return e;
}

export function mlpRow(p: HostParams, cfg: HostMlp, c: number, x: Float64Array, beta: number | null): Float64Array {
  const time = cfg.timeEmbedding === 0 ? [c] : [...sinusoid(c, cfg.timeEmbedding)];
  let h: Float64Array = Float64Array.from([...x, ...time, ...(beta === null ? [] : [beta])]);
  for (let i = 0; i < cfg.layers; i++) h = mapv(linear(p, `mlp.layer${i}.w`, `mlp.layer${i}.b`, h, cfg.hidden), silu);
  return linear(p, 'mlp.out.w', 'mlp.out.b', h, cfg.dim);
}

// ---------------------------------------------------------------- EGNN

export interface HostEgnn {
  n: number;
  d: number;
  hidden: number;
  layers: number;
  attention: boolean;
  tanh: boolean;
  coordsRange: number;
  /** Gaussian radial basis of the pair distance (0 or absent: none). */
  radialBasis?: number;
  rbfMax?: number;
}

export function egnnRow(p: HostParams, cfg: HostEgnn, c: number, x0: Float64Array, beta: number | null): Float64Array {
  const { n, d, hidden: H, layers: L } = cfg;
  const feat = beta === null ? [c] : [c, beta];
  const emb = linear(p, 'egnn.embed.w', 'egnn.embed.b', feat, H);
  let h = Array.from({ length: n }, () => Float64Array.from(emb));
  let x = Float64Array.from(x0);
  const sqDist = (y: Float64Array, i: number, j: number): number => {
    let s = 0;
    for (let k = 0; k < d; k++) s += (y[i * d + k] - y[j * d + k]) ** 2;
    return s;
  };
  for (let l = 0; l < L; l++) {
    const pre = `egnn.layer${l}`;
    const xNew = Float64Array.from(x);
    const agg = Array.from({ length: n }, () => new Float64Array(H));
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (i === j) continue;
        const r = sqDist(x, i, j);
        const a = sqDist(x0, i, j);
        const K = cfg.radialBasis ?? 0;
        const step = (cfg.rbfMax ?? 3) / Math.max(K - 1, 1);
        const rho = Array.from({ length: K }, (_, k) => Math.exp(-(((Math.sqrt(r + 1e-8) - k * step) / step) ** 2)));
        const e1 = mapv(linear(p, `${pre}.edge.w1`, `${pre}.edge.b1`, [...h[i], ...h[j], r, a, ...rho], H), silu);
        let m = mapv(linear(p, `${pre}.edge.w2`, `${pre}.edge.b2`, e1, H), silu);
        if (cfg.attention) {
          const g = sigmoid(linear(p, `${pre}.att.w`, `${pre}.att.b`, m, 1)[0]);
          m = mapv(m, (v) => v * g);
        }
        let phi = linear(p, `${pre}.coord.w2`, null, mapv(linear(p, `${pre}.coord.w1`, `${pre}.coord.b1`, m, H), silu), 1)[0];
        if (cfg.tanh) phi = Math.tanh(phi) * (cfg.coordsRange / L);
        const norm = Math.sqrt(r + 1e-8) + 1;
        for (let k = 0; k < d; k++) xNew[i * d + k] += ((x[i * d + k] - x[j * d + k]) / norm) * phi;
        for (let k = 0; k < H; k++) agg[i][k] += m[k];
      }
    }
    if (l < L - 1) {
      h = h.map((hi, i) => {
        const u = mapv(linear(p, `${pre}.node.w1`, `${pre}.node.b1`, [...hi, ...agg[i]], H), silu);
        const dh = linear(p, `${pre}.node.w2`, `${pre}.node.b2`, u, H);
        return hi.map((v, k) => v + dh[k]);
      });
    }
    x = xNew;
  }
  const out = x.map((v, i) => v - x0[i]);
  for (let k = 0; k < d; k++) {
    let m = 0;
    for (let i = 0; i < n; i++) m += out[i * d + k] / n;
    for (let i = 0; i < n; i++) out[i * d + k] -= m;
  }
  return out;
}

// ---------------------------------------------------------------- DiT

export interface HostDit {
  n: number;
  d: number;
  hidden: number;
  blocks: number;
  heads: number;
  condDim: number;
  mlpRatio: number;
}

/** LayerNorm of one token (biased variance, eps 1e-5) times scale. */
function layerNormRow(v: Float64Array, scale: Float64Array): Float64Array {
  const mu = v.reduce((a, b) => a + b, 0) / v.length;
  const varr = v.reduce((a, b) => a + (b - mu) ** 2, 0) / v.length;
  return v.map((x, i) => ((x - mu) / Math.sqrt(varr + 1e-5)) * scale[i]);
}

/** torchtune RoPE of one head vector at position pos: pairs (2k, 2k+1), angle pos·base^(−2k/dh). */
export function ropeHead(v: ArrayLike<number>, pos: number, base = 10000): Float64Array {
  const dh = v.length;
  const out = new Float64Array(dh);
  for (let k = 0; k < dh / 2; k++) {
    const ang = pos * Math.pow(base, (-2 * k) / dh);
    const [c, s] = [Math.cos(ang), Math.sin(ang)];
    out[2 * k] = v[2 * k] * c - v[2 * k + 1] * s;
    out[2 * k + 1] = v[2 * k + 1] * c + v[2 * k] * s;
  }
  return out;
}

function embedScalar(p: HostParams, prefix: string, s: number, cond: number): Float64Array {
  const e1 = mapv(linear(p, `${prefix}.w1`, `${prefix}.b1`, sinusoid(s, 256), cond), silu);
  return linear(p, `${prefix}.w2`, `${prefix}.b2`, e1, cond);
}

export function ditRow(p: HostParams, cfg: HostDit, c: number, x: Float64Array, beta: number | null): Float64Array {
  const { n, d, hidden: h, heads, condDim } = cfg;
  const dh = h / heads;
  let e = embedScalar(p, 'dit.time', c, condDim);
  if (beta !== null) {
    const eb = embedScalar(p, 'dit.beta', beta, condDim);
    e = e.map((v, i) => v + eb[i]);
  }
  const cond = mapv(e, silu);
  let t = Array.from({ length: n }, (_, i) => linear(p, 'dit.embed.w', 'dit.embed.b', x.subarray(i * d, (i + 1) * d), h));
  const modulate = (y: Float64Array, shift: Float64Array, scale: Float64Array): Float64Array =>
    y.map((v, i) => v * (1 + scale[i]) + shift[i]);
  for (let b = 0; b < cfg.blocks; b++) {
    const pre = `dit.block${b}`;
    const mod = linear(p, `${pre}.adaln.w`, `${pre}.adaln.b`, cond, 6 * h);
    const ch = (i: number): Float64Array => mod.subarray(i * h, (i + 1) * h);
    const ya = t.map((tok) => modulate(layerNormRow(tok, get(p, `${pre}.norm1.scale`)), ch(0), ch(1)));
    const qkv = ya.map((y) => linear(p, `${pre}.attn.qkv.w`, null, y, 3 * h));
    const o = Array.from({ length: n }, () => new Float64Array(h));
    for (let hd = 0; hd < heads; hd++) {
      const q = qkv.map((v, pos) => ropeHead(v.subarray(hd * dh, (hd + 1) * dh), pos));
      const k = qkv.map((v, pos) => ropeHead(v.subarray(h + hd * dh, h + (hd + 1) * dh), pos));
      const v = qkv.map((u) => u.subarray(2 * h + hd * dh, 2 * h + (hd + 1) * dh));
      for (let i = 0; i < n; i++) {
        const s = k.map((kj) => kj.reduce((acc, kv, z) => acc + kv * q[i][z], 0) / Math.sqrt(dh));
        const mx = Math.max(...s);
        const w = s.map((v2) => Math.exp(v2 - mx));
        const tot = w.reduce((a2, b2) => a2 + b2, 0);
        for (let j = 0; j < n; j++) for (let z = 0; z < dh; z++) o[i][hd * dh + z] += (w[j] / tot) * v[j][z];
      }
    }
    t = t.map((tok, i) => {
      const att = linear(p, `${pre}.attn.out.w`, null, o[i], h);
      return tok.map((v, z) => v + ch(2)[z] * att[z]);
    });
    t = t.map((tok) => {
      const y = modulate(layerNormRow(tok, get(p, `${pre}.norm2.scale`)), ch(3), ch(4));
      const u = mapv(linear(p, `${pre}.mlp.w1`, `${pre}.mlp.b1`, y, cfg.mlpRatio * h), gelu);
      const m = linear(p, `${pre}.mlp.w2`, `${pre}.mlp.b2`, u, h);
      return tok.map((v, z) => v + ch(5)[z] * m[z]);
    });
  }
  const mf = linear(p, 'dit.final.adaln.w', 'dit.final.adaln.b', cond, 2 * h);
  const out = new Float64Array(n * d);
  t.forEach((tok, i) => {
    const y = modulate(layerNormRow(tok, get(p, 'dit.final.norm.scale')), mf.subarray(0, h), mf.subarray(h, 2 * h));
    out.set(linear(p, 'dit.final.linear.w', 'dit.final.linear.b', y, d), i * d);
  });
  return out;
}

// ---------------------------------------------------------------- energy-model loss

export type HostRow = (p: HostParams, c: number, x: Float64Array, beta: number | null) => Float64Array;

/** U(x) = ⟨F(c, x, β), x⟩ for one row. */
export function energyRow(f: HostRow, p: HostParams, c: number, x: Float64Array, beta: number | null): number {
  const F = f(p, c, x, beta);
  return F.reduce((a, v, i) => a + v * x[i], 0);
}

/** ∇ₓU by central differences (h = 1e-4: truncation ~1e-9, round-off ~1e-12 relative). */
export function energyGradFd(f: HostRow, p: HostParams, c: number, x: Float64Array, beta: number | null, h = 1e-4): Float64Array {
  const g = new Float64Array(x.length);
  const y = Float64Array.from(x);
  for (let i = 0; i < x.length; i++) {
    y[i] = x[i] + h;
    const up = energyRow(f, p, c, y, beta);
    y[i] = x[i] - h;
    const down = energyRow(f, p, c, y, beta);
    y[i] = x[i];
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

/** The energy-model loss L = (1/B) Σ_b (‖∇ₓU_b‖² + ‖F_b‖²), with ∇ₓU by central differences. */
export function energyLoss(
  f: HostRow,
  p: HostParams,
  c: Float64Array,
  x: Float64Array,
  beta: Float64Array | null,
  dim: number,
): number {
  const B = c.length;
  let total = 0;
  for (let b = 0; b < B; b++) {
    const xb = x.subarray(b * dim, (b + 1) * dim);
    const bb = beta === null ? null : beta[b];
    const g = energyGradFd(f, p, c[b], xb, bb);
    const F = f(p, c[b], xb, bb);
    total += g.reduce((a, v) => a + v * v, 0) + F.reduce((a, v) => a + v * v, 0);
  }
  return total / B;
}
