/**
 * Seeded random streams. Every random draw in pita flows from an `Rng` created
 * from one user seed, so the same seed and config give bit-identical output.
 *
 * Generator: xoshiro128** (32-bit arithmetic, fast in JS), seeded through
 * splitmix32. Uniform doubles use 53 random bits. Normals use Box–Muller with
 * the spare value cached in the state, so `getState`/`setState` round-trips
 * exactly (needed for bit-exact checkpoint resume).
 */

export interface RngState {
  s: [number, number, number, number];
  spare: number | null;
}

function splitmix32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x9e3779b9) >>> 0;
    let z = a;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** FNV-1a hash of a string, used to derive named sub-streams. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const TWO_PI = 2 * Math.PI;

export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spare: number | null = null;

  /** A generator from an integer seed (any JS number; it is reduced to 32 bits after mixing both halves). */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`seed must be a finite number, got ${seed}`);
    const hi = Math.floor(seed / 2 ** 32) >>> 0;
    const sm = splitmix32((seed >>> 0) ^ Math.imul(hi, 0x27d4eb2d));
    this.s0 = sm();
    this.s1 = sm();
    this.s2 = sm();
    this.s3 = sm();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    r.setState(state);
    return r;
  }

  getState(): RngState {
    return { s: [this.s0, this.s1, this.s2, this.s3], spare: this.spare };
  }

  setState(state: RngState): void {
    [this.s0, this.s1, this.s2, this.s3] = state.s.map((v) => v >>> 0) as [number, number, number, number];
    this.spare = state.spare;
  }

  /** Next raw 32-bit unsigned integer (xoshiro128**). */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    this.s0 >>>= 0;
    this.s1 >>>= 0;
    this.s2 >>>= 0;
    this.s3 >>>= 0;
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  uniform(): number {
    const a = this.nextU32() >>> 5;
    const b = this.nextU32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** Uniform double in (0, 1], safe for logarithms. */
  uniformPositive(): number {
    return 1 - this.uniform();
  }

  /** Standard normal draw (Box–Muller, spare cached). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    const r = Math.sqrt(-2 * Math.log(this.uniformPositive()));
    const th = TWO_PI * this.uniform();
    this.spare = r * Math.sin(th);
    return r * Math.cos(th);
  }

  /** Integer uniform in [0, n). */
  int(n: number): number {
    if (!(n >= 1)) throw new Error(`Rng.int needs n >= 1, got ${n}`);
    return Math.floor(this.uniform() * n);
  }

  /** Fill (or allocate) an array of standard normals. */
  normals(n: number, out: Float64Array = new Float64Array(n)): Float64Array {
    return this.fillNormals(out, 0, n);
  }

  /**
   * Standard normals into out[start, end): exactly the draws of as many `normal()` calls, with the
   * generator's state in a local typed array rather than fields (about twice as fast; the annealer
   * draws 39 per particle and step).
   */
  fillNormals(out: Float64Array, start: number, end: number): Float64Array {
    let k = start;
    if (k < end && this.spare !== null) {
      out[k++] = this.spare;
      this.spare = null;
    }
    if (k >= end) return out;
    const s = Int32Array.of(this.s0, this.s1, this.s2, this.s3);
    let spare: number | null = null;
    while (k < end) {
      // As uniformPositive() then uniform(): two outputs each.
      const u1 = 1 - ((xoshiro(s) >>> 5) * 67108864 + (xoshiro(s) >>> 6)) / 9007199254740992;
      const u2 = ((xoshiro(s) >>> 5) * 67108864 + (xoshiro(s) >>> 6)) / 9007199254740992;
      const r = Math.sqrt(-2 * Math.log(u1));
      const th = TWO_PI * u2;
      out[k++] = r * Math.cos(th);
      if (k < end) out[k++] = r * Math.sin(th);
      else spare = r * Math.sin(th);
    }
    [this.s0, this.s1, this.s2, this.s3] = [s[0] >>> 0, s[1] >>> 0, s[2] >>> 0, s[3] >>> 0];
    this.spare = spare;
    return out;
  }

  /** Fill (or allocate) an array of uniforms on [lo, hi). */
  uniforms(n: number, lo = 0, hi = 1, out: Float64Array = new Float64Array(n)): Float64Array {
    const w = hi - lo;
    for (let i = 0; i < n; i++) out[i] = lo + w * this.uniform();
    return out;
  }

  /** Fisher–Yates permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }

  /**
   * An independent child stream. Consumes parent draws, so forking is itself
   * deterministic; `label` separates streams forked at the same point.
   */
  fork(label = ''): Rng {
    const child = new Rng(0);
    const h = hashString(label);
    const sm = splitmix32(this.nextU32() ^ h);
    child.s0 = (sm() ^ this.nextU32()) >>> 0;
    child.s1 = (sm() ^ this.nextU32()) >>> 0;
    child.s2 = (sm() ^ this.nextU32()) >>> 0;
    child.s3 = sm() >>> 0;
    if ((child.s0 | child.s1 | child.s2 | child.s3) === 0) child.s0 = 1;
    return child;
  }

  /**
   * A child stream named by integer keys, without drawing from this one: the
   * same state and keys always give the same child, whatever was derived
   * before. Work split into pieces (chunks of particles, workers) takes
   * piece i's numbers from `derive(step, i)`, so the result does not depend
   * on how the pieces are grouped or in which order they run. Each of the
   * child's four state words hashes this state and every key (murmur3's
   * finaliser, a bijection), so different keys give unrelated streams.
   */
  derive(...keys: number[]): Rng {
    // Hash the parent state once, then each child word from it, its own index and the keys (hot: once per particle and step).
    let base = fmix32(this.s0 + 0x7f4a7c15);
    base = fmix32((base ^ this.s1) + 0x7f4a7c15);
    base = fmix32((base ^ this.s2) + 0x7f4a7c15);
    base = fmix32((base ^ this.s3) + keys.length);
    const child = new Rng(0);
    const words = [0, 0, 0, 0];
    for (let w = 0; w < 4; w++) {
      let h = fmix32(base ^ Math.imul(w + 1, 0x9e3779b9));
      for (const k of keys) {
        if (!(Number.isInteger(k) && k >= 0 && k < 2 ** 32)) throw new Error(`Rng.derive keys must be integers in [0, 2^32), got ${k}`);
        h = fmix32((h ^ k) + 0x7f4a7c15);
      }
      words[w] = fmix32(h ^ Math.imul(w + 1, 0x85ebca6b));
    }
    [child.s0, child.s1, child.s2, child.s3] = words;
    if ((child.s0 | child.s1 | child.s2 | child.s3) === 0) child.s0 = 1;
    return child;
  }
}

/** One xoshiro128** step on the state words `s` (as `Rng.nextU32`, on int32 words): its output, unsigned. */
function xoshiro(s: Int32Array): number {
  const s1 = s[1];
  const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
  const t = s1 << 9;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 11);
  return result;
}

/** murmur3's 32-bit finaliser: a bijection with full avalanche. */
function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
