import type { Rng } from '../core/rng.js';
import { UserError } from '../core/errors.js';
import { BaseTarget, checkTemperature } from './target.js';

/**
 * The 40 component means of the FAB/iDEM 2-D mixture benchmark, flattened
 * [μ0x, μ0y, μ1x, …]: exactly the float32 values of PyTorch's
 * `torch.manual_seed(0); (torch.rand(40, 2) - 0.5) * 2 * 40` (printed with
 * torch 1.13, Debian python3-torch), widened to float64 without rounding.
 */
export const GMM40_MEANS: readonly number[] = [
  -0.2994728088378906, 21.457744598388672,
  -32.92180633544922, -29.43756103515625,
  -15.406174659729004, 10.72629451751709,
  -0.7925271987915039, 31.715579986572266,
  -3.5497617721557617, 10.584502220153809,
  -12.088522911071777, -7.862615585327148,
  -38.21393966674805, -26.491283416748047,
  -16.488924026489258, 1.4817428588867188,
  15.813407897949219, 24.000911712646484,
  -27.117643356323242, -17.418514251708984,
  14.528684616088867, 33.215518951416016,
  -8.232007026672363, 29.932470321655273,
  -6.447334289550781, 4.2325639724731445,
  36.21904754638672, -37.106815338134766,
  -25.1815185546875, -10.126609802246094,
  -15.591998100280762, 34.56003189086914,
  -25.92718505859375, -18.413314819335938,
  -27.94561767578125, -37.462440490722656,
  -23.349618911743164, 34.3839225769043,
  17.848735809326172, 19.38690185546875,
  2.1036624908447266, -20.5073394775390625, // written exactly: the 17-digit form trips no-loss-of-precision
  6.767387390136719, -37.3477897644043,
  -28.90264892578125, -20.621200561523438,
  25.237518310546875, 23.452850341796875,
  -17.73980140686035, -1.4432954788208008,
  25.582427978515625, 39.765323638916016,
  15.875287055969238, 5.403714179992676,
  26.819454193115234, -23.552093505859375,
  7.453761100769043, -31.01222038269043,
  -27.723445892333984, -20.663341522216797,
  18.098922729492188, 16.086416244506836,
  -23.69409942626953, 12.084283828735352,
  21.958881378173828, -5.048694610595703,
  1.527261734008789, 9.2681884765625,
  24.8150634765625, 38.40776443481445,
  -30.82494354248047, -14.65878963470459,
  15.720396041870117, 33.14197540283203,
  34.808292388916016, 35.29426956176758,
  7.9605817794799805, -34.78330612182617,
  3.6796998977661133, -25.024213790893555,
];

/** Component standard deviation of GMM-40: softplus(1) = log(1 + e) ≈ 1.3132617 (FAB's `scale_tril`). */
export const GMM40_STD = Math.log1p(Math.E);

/** Half-width of the box [−50, 50]² that GMM-40 starting points are drawn from (PITA normalises data by ±50). */
export const GMM40_BOX_HALF_WIDTH = 50;

/** Construction parameters of an isotropic Gaussian mixture target. */
export interface GaussianMixtureParams {
  name: string;
  /** Component means, row-major [K, dim]. */
  means: ArrayLike<number>;
  dim: number;
  /** Common standard deviation σ of every component (covariance σ²·I). */
  std: number;
  /** initialConfigurations draws uniformly from [−h, h]^dim. */
  initHalfWidth: number;
}

/**
 * Equal-weight mixture of K isotropic Gaussians N(μ_k, σ²I) in `dim`
 * dimensions, one "particle" without translation invariance.
 *
 * Energy: E(x) = −log GMM(x) with the normalised density
 *   GMM(x) = (1/K) Σ_k (2πσ²)^(−dim/2) exp(−|x − μ_k|² / (2σ²)),
 * so log p_T = −E/T is the exact normalised log-density at T = 1.
 * Computed with a max-shifted log-sum-exp (finite for any finite x).
 * Forces: −∇E = Σ_k r_k(x) (μ_k − x)/σ², r_k the component responsibilities.
 */
export class GaussianMixtureTarget extends BaseTarget {
  readonly name: string;
  readonly dim: number;
  readonly nParticles = 1;
  readonly spatialDim: number;
  readonly translationInvariant = false;
  readonly nComponents: number;
  readonly std: number;
  /** Langevin's default Δt: a quarter of the component std (unit masses), about 10 steps per oscillation within a mode. */
  readonly defaultTimestep: number;
  private readonly means: Float64Array;
  private readonly initHalfWidth: number;
  /** −log K − (dim/2) log(2πσ²): the log weight plus the Gaussian normaliser. */
  private readonly logNorm: number;
  /** Scratch for the per-component exponents (reused; avoids allocation per call). */
  private readonly scratch: Float64Array;

  constructor(p: GaussianMixtureParams) {
    super();
    if (!Number.isInteger(p.dim) || p.dim < 1) throw new UserError(`${p.name}: dim must be a positive integer, got ${p.dim}`);
    if (p.means.length === 0 || p.means.length % p.dim !== 0) {
      throw new UserError(`${p.name}: means has length ${p.means.length}; expected K·${p.dim} with K ≥ 1`);
    }
    for (let i = 0; i < p.means.length; i++) {
      if (!Number.isFinite(p.means[i])) throw new UserError(`${p.name}: mean entry ${i} is ${p.means[i]}, not finite`);
    }
    if (!(Number.isFinite(p.std) && p.std > 0)) throw new UserError(`${p.name}: std must be a positive number, got ${p.std}`);
    if (!(Number.isFinite(p.initHalfWidth) && p.initHalfWidth > 0)) {
      throw new UserError(`${p.name}: initHalfWidth must be a positive number, got ${p.initHalfWidth}`);
    }
    this.name = p.name;
    this.dim = p.dim;
    this.spatialDim = p.dim;
    this.means = Float64Array.from(p.means);
    this.nComponents = this.means.length / p.dim;
    this.std = p.std;
    this.defaultTimestep = 0.25 * p.std;
    this.initHalfWidth = p.initHalfWidth;
    this.logNorm = -Math.log(this.nComponents) - 0.5 * p.dim * Math.log(2 * Math.PI * p.std * p.std);
    this.scratch = new Float64Array(this.nComponents);
  }

  /** Component means, row-major [K, dim] (a copy). */
  componentMeans(): Float64Array {
    return this.means.slice();
  }

  protected evalOne(x: Float64Array, off: number, forces: Float64Array | null, fOff: number): number {
    const { dim, nComponents: K, means } = this;
    const l = this.scratch;
    const inv2s2 = 0.5 / (this.std * this.std);
    let lmax = -Infinity;
    for (let k = 0; k < K; k++) {
      let q = 0;
      for (let d = 0; d < dim; d++) {
        const dx = x[off + d] - means[k * dim + d];
        q += dx * dx;
      }
      l[k] = -q * inv2s2;
      if (l[k] > lmax) lmax = l[k];
    }
    let z = 0;
    for (let k = 0; k < K; k++) {
      l[k] = Math.exp(l[k] - lmax);
      z += l[k];
    }
    if (forces) {
      const invs2 = 1 / (this.std * this.std);
      for (let d = 0; d < dim; d++) {
        let f = 0;
        for (let k = 0; k < K; k++) f += l[k] * (means[k * dim + d] - x[off + d]);
        forces[fOff + d] = (f / z) * invs2;
      }
    }
    return -(lmax + Math.log(z) + this.logNorm);
  }

  /** Uniform starting points in [−h, h]^dim. */
  initialConfigurations(rng: Rng, n: number): Float64Array {
    checkCount(this.name, n);
    return rng.uniforms(n * this.dim, -this.initHalfWidth, this.initHalfWidth);
  }

  /**
   * Exact i.i.d. samples of p_T ∝ GMM(x)^β, β = 1/T, for T ≥ 1.
   *
   * T = 1: ancestral sampling of the mixture.
   * T > 1: rejection sampling from the equal-weight proposal
   *   q(x) = (1/K) Σ_k N(x; μ_k, Tσ²I) ∝ Σ_k a_k(x)^β,  a_k = N(x; μ_k, σ²I).
   * Because β ≤ 1, t ↦ t^β is subadditive, so (Σ_k a_k)^β ≤ Σ_k a_k^β and
   * the acceptance probability (Σ_k a_k)^β / Σ_k a_k^β ≤ 1 is valid; it is
   * near 1 where components do not overlap and at least K^(β−1) everywhere.
   * T < 1 has no such cheap envelope (the bound degrades as K^(1−β)), so it
   * is refused with a UserError. The density evaluations of the rejection
   * step are not counted: this is reference sampling, not sampler work.
   */
  sampleExact(rng: Rng, n: number, temperature: number): Float64Array {
    checkCount(this.name, n);
    const t = checkTemperature(temperature);
    if (t < 1) {
      throw new UserError(`${this.name}: exact sampling is implemented for temperature ≥ 1 only, got ${t}`);
    }
    const { dim, nComponents: K, means } = this;
    const beta = 1 / t;
    const s = this.std * Math.sqrt(t);
    const out = new Float64Array(n * dim);
    const inv2s2 = 0.5 / (this.std * this.std);
    const l = this.scratch;
    for (let i = 0; i < n; i++) {
      const o = i * dim;
      for (;;) {
        const k = rng.int(K);
        for (let d = 0; d < dim; d++) out[o + d] = means[k * dim + d] + s * rng.normal();
        if (t === 1) break;
        for (let c = 0; c < K; c++) {
          let q = 0;
          for (let d = 0; d < dim; d++) {
            const dx = out[o + d] - means[c * dim + d];
            q += dx * dx;
          }
          l[c] = -q * inv2s2;
        }
        // log acceptance = β·LSE(ℓ) − LSE(β·ℓ) ≤ 0, ℓ_c = −|x − μ_c|²/(2σ²) (common constants cancel).
        if (Math.log(rng.uniformPositive()) <= beta * logSumExp(l, 1) - logSumExp(l, beta)) break;
      }
    }
    return out;
  }
}

/** log Σ_c exp(scale·v_c), max-shifted. */
function logSumExp(v: Float64Array, scale: number): number {
  let m = -Infinity;
  for (let c = 0; c < v.length; c++) if (scale * v[c] > m) m = scale * v[c];
  let s = 0;
  for (let c = 0; c < v.length; c++) s += Math.exp(scale * v[c] - m);
  return m + Math.log(s);
}

function checkCount(name: string, n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new UserError(`${name}: number of samples must be a non-negative integer, got ${n}`);
}

/** The GMM-40 benchmark target: 2-D, 40 equal-weight components of std softplus(1), means GMM40_MEANS. */
export function createGmm40(): GaussianMixtureTarget {
  return new GaussianMixtureTarget({
    name: 'gmm40',
    means: GMM40_MEANS,
    dim: 2,
    std: GMM40_STD,
    initHalfWidth: GMM40_BOX_HALF_WIDTH,
  });
}
