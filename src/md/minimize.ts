/**
 * L-BFGS energy minimisation of one configuration (Nocedal & Wright, Alg. 7.4)
 * with a backtracking Armijo line search. Used before MD, as OpenMM's
 * minimizeEnergy is. Works on any function returning the energy and the
 * force (−gradient) of a flat coordinate vector.
 */
export interface MinimizeOptions {
  /** Stop when the RMS force falls below this (energy units per length unit). Default 1. */
  forceTolerance?: number;
  /** Maximum iterations (0 = unlimited is not allowed: always bounded). Default 2000. */
  maxIterations?: number;
  /** History length of the L-BFGS approximation. Default 10. */
  memory?: number;
  /** Largest displacement of any coordinate in one step, for robustness near clashes. Default 0.1. */
  maxStep?: number;
}

export interface MinimizeResult {
  x: Float64Array;
  energy: number;
  rmsForce: number;
  iterations: number;
  evaluations: number;
  converged: boolean;
}

export type EnergyForceFn = (x: Float64Array) => { energy: number; forces: Float64Array };

export function minimize(f: EnergyForceFn, x0: Float64Array, opts: MinimizeOptions = {}): MinimizeResult {
  const tol = opts.forceTolerance ?? 1;
  const maxIter = opts.maxIterations ?? 2000;
  const m = opts.memory ?? 10;
  const maxStep = opts.maxStep ?? 0.1;
  const n = x0.length;
  let x = Float64Array.from(x0);
  let { energy, forces } = f(x);
  let evaluations = 1;
  if (!Number.isFinite(energy)) throw new Error(`minimize: initial energy is ${energy}`);
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const alpha = new Float64Array(m);
  const d = new Float64Array(n);
  let iter = 0;
  let rms = rmsOf(forces);
  while (rms > tol && iter < maxIter) {
    iter++;
    // Two-loop recursion: d = −H·∇E = H·F.
    d.set(forces);
    for (let k = S.length - 1; k >= 0; k--) {
      alpha[k] = rho[k] * dot(S[k], d);
      axpy(-alpha[k], Y[k], d);
    }
    if (S.length > 0) {
      const last = S.length - 1;
      const scale = dot(S[last], Y[last]) / dot(Y[last], Y[last]);
      for (let i = 0; i < n; i++) d[i] *= scale;
    }
    for (let k = 0; k < S.length; k++) {
      const beta = rho[k] * dot(Y[k], d);
      axpy(alpha[k] - beta, S[k], d);
    }
    // Fall back to steepest descent if d is not a descent direction.
    let slope = -dot(forces, d); // directional derivative of E along d
    if (!(slope < 0)) {
      d.set(forces);
      slope = -dot(forces, forces);
      S.length = 0;
      Y.length = 0;
      rho.length = 0;
    }
    let maxAbs = 0;
    for (let i = 0; i < n; i++) maxAbs = Math.max(maxAbs, Math.abs(d[i]));
    let step = maxAbs > maxStep ? maxStep / maxAbs : 1;
    const xNew = new Float64Array(n);
    let accepted: { energy: number; forces: Float64Array } | null = null;
    for (let ls = 0; ls < 40; ls++) {
      for (let i = 0; i < n; i++) xNew[i] = x[i] + step * d[i];
      const trial = f(xNew);
      evaluations++;
      if (Number.isFinite(trial.energy) && trial.energy <= energy + 1e-4 * step * slope) {
        accepted = trial;
        break;
      }
      step *= 0.5;
    }
    if (!accepted) break; // no decrease possible at machine precision: a (local) minimum
    const s = new Float64Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      s[i] = xNew[i] - x[i];
      y[i] = forces[i] - accepted.forces[i]; // ∇E_new − ∇E_old
    }
    const sy = dot(s, y);
    if (sy > 1e-12) {
      if (S.length === m) {
        S.shift();
        Y.shift();
        rho.shift();
      }
      S.push(s);
      Y.push(y);
      rho.push(1 / sy);
    }
    x = xNew;
    energy = accepted.energy;
    forces = accepted.forces;
    rms = rmsOf(forces);
  }
  return { x, energy, rmsForce: rms, iterations: iter, evaluations, converged: rms <= tol };
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function axpy(a: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < y.length; i++) y[i] += a * x[i];
}

function rmsOf(f: Float64Array): number {
  return Math.sqrt(dot(f, f) / f.length);
}
