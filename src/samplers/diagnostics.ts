/**
 * Convergence diagnostics across chains, as Stan and ArviZ report them
 * (Vehtari, Gelman, Simpson, Carpenter & Bürkner 2021, "Rank-normalization,
 * folding, and localization: an improved R̂").
 *
 * - split-R̂: every chain is cut in half (an odd middle draw is dropped), so a
 *   drift within a chain shows up as a difference between its halves.
 * - rank normalization: the pooled draws are replaced by the normal scores
 *   Φ⁻¹((r − 3/8)/(S + 1/4)) of their ranks r (ties: average rank), so
 *   heavy tails and infinite variances do not break the statistics.
 * - R̂ = max(bulk R̂, tail R̂): bulk on the rank-normalized split chains, tail
 *   on the rank-normalized folded draws |x − median|, which catches chains
 *   that agree in location but not in scale.
 * - bulk ESS: Geyer's initial monotone sequence estimator on the
 *   rank-normalized split chains, with the multi-chain autocorrelation
 *   ρ_t = 1 − (W − mean autocovariance_t)/var⁺ of Stan's reference code.
 *
 * Chains are given as an array of equal-length Float64Arrays (one per chain).
 * Degenerate input (fewer than 4 draws per chain, or no variance at all)
 * gives NaN, as ArviZ does; chains that are each constant but differ give
 * R̂ = ∞.
 */

/** Φ⁻¹(p) for 0 < p < 1 (Acklam's rational approximation, relative error < 1.2e-9; ample for normal scores). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) return p === 0 ? -Infinity : p === 1 ? Infinity : NaN;
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const tail = (q: number): number => (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/** Each chain cut into two halves (the middle draw of an odd-length chain is dropped). */
export function splitChains(chains: readonly Float64Array[]): Float64Array[] {
  const out: Float64Array[] = [];
  for (const c of chains) {
    const h = Math.floor(c.length / 2);
    out.push(c.subarray(0, h), c.subarray(c.length - h));
  }
  return out;
}

/** Normal scores of the pooled ranks (average rank for ties), chain by chain. */
export function rankNormalize(chains: readonly Float64Array[]): Float64Array[] {
  const all: { v: number; c: number; i: number }[] = [];
  chains.forEach((ch, c) => ch.forEach((v, i) => all.push({ v, c, i })));
  all.sort((p, q) => p.v - q.v);
  const S = all.length;
  const out = chains.map((ch) => new Float64Array(ch.length));
  for (let lo = 0; lo < S; ) {
    let hi = lo;
    while (hi + 1 < S && all[hi + 1].v === all[lo].v) hi++;
    const rank = (lo + hi) / 2 + 1; // 1-based average rank of the tie group
    const z = normalQuantile((rank - 0.375) / (S + 0.25));
    for (let k = lo; k <= hi; k++) out[all[k].c][all[k].i] = z;
    lo = hi + 1;
  }
  return out;
}

function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
}

/** Sample variance (n − 1 denominator). */
function variance(a: ArrayLike<number>): number {
  const m = mean(a);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - m) ** 2;
  return s / (a.length - 1);
}

/** Classic R̂ of equal-length chains: √((B/W + n − 1)/n) with B = n·var(chain means), W = mean chain variance. */
export function rhatOf(chains: readonly Float64Array[]): number {
  const n = chains[0]?.length ?? 0;
  if (chains.length < 2 || n < 2) return NaN;
  const between = n * variance(chains.map(mean));
  const within = mean(chains.map(variance));
  if (within === 0) return between === 0 ? NaN : Infinity;
  return Math.sqrt((between / within + n - 1) / n);
}

/** Rank-normalized split-R̂: max of the bulk and the tail (folded) values. NaN for fewer than 4 draws per chain. */
export function splitRhat(chains: readonly Float64Array[]): number {
  if (!usable(chains)) return NaN;
  const split = splitChains(chains);
  const bulk = rhatOf(rankNormalize(split));
  const med = median(chains);
  const folded = split.map((c) => c.map((v) => Math.abs(v - med)));
  const tail = rhatOf(rankNormalize(folded));
  if (Number.isNaN(bulk)) return tail;
  if (Number.isNaN(tail)) return bulk;
  return Math.max(bulk, tail);
}

/** Bulk effective sample size: ESS of the rank-normalized split chains. NaN for fewer than 4 draws per chain. */
export function essBulk(chains: readonly Float64Array[]): number {
  if (!usable(chains)) return NaN;
  return essOf(rankNormalize(splitChains(chains)));
}

function usable(chains: readonly Float64Array[]): boolean {
  return chains.length >= 1 && chains[0].length >= 4 && chains.every((c) => c.length === chains[0].length);
}

function median(chains: readonly Float64Array[]): number {
  const all = Float64Array.from(chains.flatMap((c) => [...c])).sort();
  const m = all.length >> 1;
  return all.length % 2 === 1 ? all[m] : (all[m - 1] + all[m]) / 2;
}

/**
 * Effective sample size of equal-length chains (no splitting, no ranking):
 * Stan's multi-chain estimator with Geyer's initial positive and monotone
 * sequence. Autocovariances are computed lag by lag and only as far as the
 * truncation needs, so well-mixed chains cost O(draws) per lag kept.
 */
export function essOf(chains: readonly Float64Array[]): number {
  const m = chains.length;
  const n = chains[0]?.length ?? 0;
  if (m < 1 || n < 4) return NaN;
  const centred = chains.map((c) => {
    const mu = mean(c);
    return c.map((v) => v - mu);
  });
  // Mean over chains of the biased autocovariance at lag t.
  const acov = (t: number): number => {
    let s = 0;
    for (const c of centred) for (let i = 0; i + t < n; i++) s += c[i] * c[i + t];
    return s / (n * m);
  };
  const acov0 = acov(0);
  const meanVar = (acov0 * n) / (n - 1);
  let varPlus = (meanVar * (n - 1)) / n;
  if (m > 1) varPlus += variance(chains.map(mean));
  if (!(varPlus > 0)) return NaN;
  const rho = new Float64Array(n);
  rho[0] = 1;
  let rhoEven = 1;
  let rhoOdd = 1 - (meanVar - acov(1)) / varPlus;
  rho[1] = rhoOdd;
  let t = 1;
  while (t < n - 3 && rhoEven + rhoOdd > 0) {
    rhoEven = 1 - (meanVar - acov(t + 1)) / varPlus;
    rhoOdd = 1 - (meanVar - acov(t + 2)) / varPlus;
    if (rhoEven + rhoOdd >= 0) {
      rho[t + 1] = rhoEven;
      rho[t + 2] = rhoOdd;
    }
    t += 2;
  }
  const maxT = t - 2;
  if (rhoEven > 0) rho[maxT + 1] = rhoEven;
  // Geyer's initial monotone sequence: pair sums may not increase.
  for (let u = 1; u <= maxT - 2; u += 2) {
    if (rho[u + 1] + rho[u + 2] > rho[u - 1] + rho[u]) {
      rho[u + 1] = (rho[u - 1] + rho[u]) / 2;
      rho[u + 2] = rho[u + 1];
    }
  }
  let sum = 0;
  for (let u = 0; u <= maxT; u++) sum += rho[u];
  let tau = -1 + 2 * sum + (maxT + 1 < n ? rho[maxT + 1] : 0);
  // Stan's cap: ESS ≤ S·log10(S) for antithetic chains.
  tau = Math.max(tau, 1 / Math.log10(m * n));
  return (m * n) / tau;
}
