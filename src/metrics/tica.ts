/**
 * Time-lagged independent component analysis (TICA) and TICA-W1/W2
 * (docs/targets-and-metrics.md §3.7).
 *
 * Features (reference `tica.py`, shared with TBG/SBG): all pairwise distances
 * (nm) among the atoms whose element is C, N or S, then sin and cos of every
 * backbone dihedral (φ, ψ, ω).
 *
 * Fit on a time-ordered feature trajectory X [T, F] with lag τ frames (the
 * estimator of deeptime's `TICA(lagtime=τ)`: reversible, no Bessel
 * correction), over the P = T − τ pairs (X_t, X_{t+τ}), t = 0 … P−1:
 *
 *   μ  = (1/2P) Σ_t (X_t + X_{t+τ})
 *   C0 = (1/2P) Σ_t [ (X_t−μ)(X_t−μ)ᵀ + (X_{t+τ}−μ)(X_{t+τ}−μ)ᵀ ]
 *   Cτ = (1/2P) Σ_t [ (X_t−μ)(X_{t+τ}−μ)ᵀ + (X_{t+τ}−μ)(X_t−μ)ᵀ ]
 *
 * and solve Cτ r = λ C0 r by whitening: C0 = U diag(s) Uᵀ, keep the m
 * eigenvalues s_i > ε (deeptime's absolute eigenvalue cutoff, default 1e-6;
 * the dropped directions are (nearly) constant features such as stiff bond
 * lengths), W = U_m diag(s^−½), eigen-decompose Wᵀ Cτ W = Q diag(λ) Qᵀ, and
 * R = W Q. Components are sorted by λ descending (slowest first); deeptime
 * sorts by |λ|, which differs only if a negative eigenvalue outranks a
 * positive one in magnitude. Each component's sign is fixed so that its
 * largest-magnitude entry is positive (any sign is valid; this one is
 * deterministic). Rᵀ C0 R = I, so unscaled projections have unit variance.
 *
 * The lag refers to row order: the fit is meaningful only on a time-ordered
 * trajectory at a fixed time step. The shipped train/val splits are random
 * subsets of MD chains, not time-ordered; the reference code even fits on
 * 5000 test samples drawn with replacement. On such data Cτ estimates nothing
 * kinetic and the "slow" components are arbitrary directions. Deviation from
 * the reference: deeptime's Koopman reweighting is not applied.
 */
import { UserError } from '../core/errors.js';
import { otFromCostMatrix, squaredEuclideanCostMatrix } from './ot.js';
import { checkRows, checkShape, matMul, symmetricEigen, transpose } from './linalg.js';
import { checkQuads, dihedralAngle, peptideDihedrals, type Quad } from './dihedrals.js';
import { equalSizeSubsample, type EqualSizeOptions } from './torus.js';

/** Which atoms and dihedrals make the TICA feature vector. */
export interface TicaFeatureSpec {
  nAtoms: number;
  /** Atoms whose pairwise distances are features, ascending. */
  distanceAtoms: readonly number[];
  /** Dihedrals contributing sin and cos features. */
  dihedrals: readonly Quad[];
}

/** Number of features: k(k−1)/2 distances for k atoms plus 2 per dihedral. */
export function ticaFeatureCount(spec: TicaFeatureSpec): number {
  const k = spec.distanceAtoms.length;
  return (k * (k - 1)) / 2 + 2 * spec.dihedrals.length;
}

function checkSpec(spec: TicaFeatureSpec): void {
  const { nAtoms, distanceAtoms, dihedrals } = spec;
  if (!Number.isInteger(nAtoms) || nAtoms < 1) throw new UserError(`TICA features: nAtoms must be a positive integer, got ${nAtoms}`);
  distanceAtoms.forEach((a, i) => {
    if (!Number.isInteger(a) || a < 0 || a >= nAtoms || (i > 0 && a <= distanceAtoms[i - 1])) {
      throw new UserError(`TICA features: distance atoms must be ascending distinct indices in [0, ${nAtoms}); got [${distanceAtoms.join(', ')}]`);
    }
  });
  checkQuads('TICA features', dihedrals, nAtoms);
  if (ticaFeatureCount(spec) === 0) throw new UserError('TICA features: the spec selects no features');
}

/**
 * Feature vectors of configurations x [n, 3·nAtoms] (nm) → [n, F]: distances
 * |x_a − x_b| for distance atoms a < b in lexicographic order, then
 * (sin θ, cos θ) for each dihedral θ in order.
 */
export function ticaFeatures(spec: TicaFeatureSpec, x: Float64Array, n: number): Float64Array {
  checkSpec(spec);
  const dim = 3 * spec.nAtoms;
  checkRows('TICA feature coordinates', x, n, dim);
  const f = ticaFeatureCount(spec);
  const out = new Float64Array(n * f);
  const atoms = spec.distanceAtoms;
  for (let r = 0; r < n; r++) {
    const o = r * dim;
    let c = r * f;
    for (let i = 0; i < atoms.length; i++) {
      const oi = o + 3 * atoms[i];
      for (let j = i + 1; j < atoms.length; j++) {
        const oj = o + 3 * atoms[j];
        out[c++] = Math.hypot(x[oi] - x[oj], x[oi + 1] - x[oj + 1], x[oi + 2] - x[oj + 2]);
      }
    }
    for (const q of spec.dihedrals) {
      const theta = dihedralAngle(x, o, q);
      out[c++] = Math.sin(theta);
      out[c++] = Math.cos(theta);
    }
  }
  return out;
}

export interface PeptideTicaFeatureOptions {
  /** Elements whose atoms give distance features (default ['C', 'N', 'S'], the reference's slice). */
  featureElements?: readonly string[];
  /**
   * Which ω dihedrals give sin/cos features. 'mdtraj' (default): those
   * mdtraj's compute_omega finds on the reference topology (none for ALDP,
   * whose peptide bonds involve the cap methyls, which are not named CA; both
   * for AL3). 'all': every peptide bond, cap methyls standing in for CA.
   */
  omega?: 'mdtraj' | 'all';
}

/**
 * The reference's feature spec for a peptide target, from its per-atom
 * element symbols (e.g. from the PDB). ALDP: 8 C/N atoms → 28 distances +
 * sin/cos of φ, ψ = 32 features ('all' ω: 36). AL3: 12 C/N atoms → 66
 * distances + sin/cos of 2 φ, 2 ψ, 2 ω = 78 features.
 */
export function peptideTicaFeatureSpec(name: string, elements: readonly string[], opts: PeptideTicaFeatureOptions = {}): TicaFeatureSpec {
  const { featureElements = ['C', 'N', 'S'], omega = 'mdtraj' } = opts;
  if (omega !== 'mdtraj' && omega !== 'all') throw new UserError(`TICA features: omega must be 'mdtraj' or 'all', got '${String(omega)}'`);
  const set = peptideDihedrals(name);
  if (elements.length !== set.nAtoms) {
    throw new UserError(`TICA features for '${name}': got ${elements.length} element symbols; the target has ${set.nAtoms} atoms`);
  }
  const wanted = new Set(featureElements.map((e) => e.toUpperCase()));
  const distanceAtoms = elements.flatMap((e, i) => (wanted.has(e.toUpperCase()) ? [i] : []));
  const dihedrals = [...set.phi, ...set.psi, ...set.omega.filter((w) => omega === 'all' || w.mdtraj)].map((d) => d.atoms);
  return { nAtoms: set.nAtoms, distanceAtoms, dihedrals };
}

export interface TicaOptions {
  /** Lag τ in frames (rows), an integer ≥ 1 and < the number of frames. */
  lag: number;
  /** Eigenvalues of C0 at or below this are dropped (default 1e-6, absolute, in feature units squared, as deeptime). */
  epsilon?: number;
  /**
   * 'kinetic-map' (default, deeptime's default): projection i is multiplied
   * by λ_i, so Euclidean distances approximate kinetic distances.
   * 'none': unit-variance projections.
   */
  scaling?: 'kinetic-map' | 'none';
}

/** A fitted TICA model. */
export interface TicaModel {
  lag: number;
  scaling: 'kinetic-map' | 'none';
  nFeatures: number;
  /** Kept components m ≤ nFeatures. */
  nComponents: number;
  /** μ [nFeatures]. */
  mean: Float64Array;
  /** R [nFeatures, m]; column i is component i. */
  components: Float64Array;
  /** λ [m], descending; the autocorrelation of component i at lag τ. */
  eigenvalues: Float64Array;
}

/** Fits TICA to a time-ordered feature trajectory [nFrames, nFeatures]; see the module comment. */
export function fitTica(features: Float64Array, nFrames: number, nFeatures: number, opts: TicaOptions): TicaModel {
  const { lag, epsilon = 1e-6, scaling = 'kinetic-map' } = opts;
  checkRows('TICA features', features, nFrames, nFeatures);
  if (!Number.isInteger(lag) || lag < 1 || lag >= nFrames) {
    throw new UserError(`TICA: lag must be an integer in [1, ${nFrames - 1}] for ${nFrames} frames, got ${lag}`);
  }
  if (!(epsilon >= 0) || !Number.isFinite(epsilon)) throw new UserError(`TICA: epsilon must be finite and ≥ 0, got ${epsilon}`);
  if (scaling !== 'kinetic-map' && scaling !== 'none') throw new UserError(`TICA: scaling must be 'kinetic-map' or 'none', got '${String(scaling)}'`);
  const f = nFeatures;
  const pairs = nFrames - lag;

  const mean = new Float64Array(f);
  for (let t = 0; t < pairs; t++) {
    for (let i = 0; i < f; i++) mean[i] += features[t * f + i] + features[(t + lag) * f + i];
  }
  for (let i = 0; i < f; i++) mean[i] /= 2 * pairs;

  const c0 = new Float64Array(f * f);
  const ct = new Float64Array(f * f);
  const a = new Float64Array(f);
  const b = new Float64Array(f);
  for (let t = 0; t < pairs; t++) {
    for (let i = 0; i < f; i++) {
      a[i] = features[t * f + i] - mean[i];
      b[i] = features[(t + lag) * f + i] - mean[i];
    }
    for (let i = 0; i < f; i++) {
      const ai = a[i];
      const bi = b[i];
      const row = i * f;
      for (let j = i; j < f; j++) {
        c0[row + j] += ai * a[j] + bi * b[j];
        ct[row + j] += ai * b[j] + bi * a[j];
      }
    }
  }
  const norm = 1 / (2 * pairs);
  for (let i = 0; i < f; i++) {
    for (let j = i; j < f; j++) {
      c0[i * f + j] *= norm;
      ct[i * f + j] *= norm;
      c0[j * f + i] = c0[i * f + j];
      ct[j * f + i] = ct[i * f + j];
    }
  }

  const e0 = symmetricEigen(c0, f);
  let m = 0;
  while (m < f && e0.values[m] > epsilon) m++;
  if (m === 0) {
    throw new UserError(`TICA: every eigenvalue of the feature covariance is ≤ epsilon = ${epsilon} (largest ${e0.values[0]}); the features are constant`);
  }
  const w = new Float64Array(f * m);
  for (let r = 0; r < f; r++) for (let c = 0; c < m; c++) w[r * m + c] = e0.vectors[r * f + c] / Math.sqrt(e0.values[c]);
  const ctWhite = matMul(transpose(w, f, m), matMul(ct, w, f, f, m), m, f, m);
  const et = symmetricEigen(ctWhite, m);
  const components = matMul(w, et.vectors, f, m, m);
  for (let c = 0; c < m; c++) {
    let big = 0;
    for (let r = 0; r < f; r++) if (Math.abs(components[r * m + c]) > Math.abs(big)) big = components[r * m + c];
    if (big < 0) for (let r = 0; r < f; r++) components[r * m + c] = -components[r * m + c];
  }
  return { lag, scaling, nFeatures: f, nComponents: m, mean, components, eigenvalues: et.values };
}

/** Projects features [n, nFeatures] on the first k components (default 2): y_i = (x − μ)·r_i, times λ_i under 'kinetic-map'. Returns [n, k]. */
export function ticaProject(model: TicaModel, features: Float64Array, n: number, k = 2): Float64Array {
  const f = model.nFeatures;
  const m = model.nComponents;
  checkRows('TICA projection features', features, n, f);
  if (!Number.isInteger(k) || k < 1 || k > m) throw new UserError(`TICA projection: k must be an integer in [1, ${m}] (components kept), got ${k}`);
  const out = new Float64Array(n * k);
  const centred = new Float64Array(f);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < f; i++) centred[i] = features[r * f + i] - model.mean[i];
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let i = 0; i < f; i++) s += centred[i] * model.components[i * m + c];
      out[r * k + c] = model.scaling === 'kinetic-map' ? s * model.eigenvalues[c] : s;
    }
  }
  return out;
}

export interface TicaWassersteinOptions extends EqualSizeOptions {
  /** 2 (default): W2 = sqrt(mean assigned ‖Δ‖²). 1: W1 = mean assigned ‖Δ‖ (the spec reports ALDP as W1, AL3 as W2). */
  order?: 1 | 2;
}

/**
 * TICA-W1/W2 between projections a [nA, dim] and b [nB, dim]: exact OT with
 * Euclidean (order 1) or squared-Euclidean (order 2) cost, at equal size
 * m = min(nA, nB, maxPoints) (subsampling as in EqualSizeOptions, default
 * maxPoints 2000, seed 0).
 */
export function ticaWasserstein(a: Float64Array, nA: number, b: Float64Array, nB: number, dim: number, opts: TicaWassersteinOptions = {}): number {
  const { order = 2 } = opts;
  if (order !== 1 && order !== 2) throw new UserError(`TICA Wasserstein: order must be 1 or 2, got ${String(order)}`);
  checkRows('TICA Wasserstein first set', a, nA, dim);
  checkRows('TICA Wasserstein second set', b, nB, dim);
  const { a: ia, b: ib } = equalSizeSubsample(nA, nB, opts);
  const m = ia.length;
  const cost = squaredEuclideanCostMatrix(gatherRows(a, dim, ia), gatherRows(b, dim, ib), m, dim);
  if (order === 1) for (let i = 0; i < cost.length; i++) cost[i] = Math.sqrt(cost[i]);
  const mean = otFromCostMatrix(cost, m).cost;
  return order === 1 ? mean : Math.sqrt(mean);
}

function gatherRows(x: Float64Array, dim: number, rows: Int32Array): Float64Array {
  const out = new Float64Array(rows.length * dim);
  rows.forEach((r, i) => out.set(x.subarray(r * dim, (r + 1) * dim), i * dim));
  return out;
}

/** Default lags (frames) of the reference: 10 for AL3 (33 atoms), 100 otherwise. */
export const PEPTIDE_TICA_LAG = { aldp: 100, al3: 10 } as const;

/** A TICA model with the feature spec it was fitted on. */
export interface PeptideTica {
  spec: TicaFeatureSpec;
  model: TicaModel;
}

export interface PeptideTicaOptions extends PeptideTicaFeatureOptions, Partial<TicaOptions> {}

/**
 * Fits TICA for a peptide target on reference configurations refX
 * [nRef, 3·nAtoms] (nm), which must be a time-ordered trajectory for the lag
 * to mean anything (module comment). Lag defaults to PEPTIDE_TICA_LAG.
 */
export function fitPeptideTica(name: string, elements: readonly string[], refX: Float64Array, nRef: number, opts: PeptideTicaOptions = {}): PeptideTica {
  const spec = peptideTicaFeatureSpec(name, elements, opts);
  checkShape(`TICA reference for '${name}'`, refX, nRef, 3 * spec.nAtoms);
  const lag = opts.lag ?? PEPTIDE_TICA_LAG[name as keyof typeof PEPTIDE_TICA_LAG];
  const features = ticaFeatures(spec, refX, nRef);
  const model = fitTica(features, nRef, ticaFeatureCount(spec), { lag, epsilon: opts.epsilon, scaling: opts.scaling });
  return { spec, model };
}

/** Projects configurations x [n, 3·nAtoms] on the first k (default 2) components: [n, k]. */
export function projectPeptideTica(tica: PeptideTica, x: Float64Array, n: number, k = 2): Float64Array {
  return ticaProject(tica.model, ticaFeatures(tica.spec, x, n), n, k);
}

/** TICA-W (default W2 on the first 2 components) between reference and generated configurations. */
export function peptideTicaWasserstein(
  tica: PeptideTica,
  refX: Float64Array,
  nRef: number,
  genX: Float64Array,
  nGen: number,
  opts: TicaWassersteinOptions & { k?: number } = {},
): number {
  const { k = 2 } = opts;
  return ticaWasserstein(projectPeptideTica(tica, refX, nRef, k), nRef, projectPeptideTica(tica, genX, nGen, k), nGen, k, opts);
}
