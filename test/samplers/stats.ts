/**
 * Monte-Carlo error helpers for the sampler tests (not a test file).
 *
 * Autocorrelation is handled by independent chains: each chain's time
 * average of a statistic is one draw, the chains are independent (different
 * random streams and starting points; after warm-up the kernel is fixed), so
 * the grand mean over C chains has standard error sd_between/√C, where
 * sd_between is the sample standard deviation of the chain averages. This
 * includes the autocorrelation within each chain exactly, without estimating
 * an integrated autocorrelation time.
 */

/** Mean and standard error of the mean of independent values. */
export function meanAndSe(values: ArrayLike<number>): { mean: number; se: number } {
  const n = values.length;
  let m = 0;
  for (let i = 0; i < n; i++) m += values[i] / n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (values[i] - m) ** 2 / (n - 1);
  return { mean: m, se: Math.sqrt(v / n) };
}

/**
 * Per-chain time averages of statistics of driver output. runSampler collects
 * the chains in order, so chain c's samples are rows c, C + c, 2C + c, ….
 * Returns one array per statistic with C chain averages.
 */
export function chainAverages(
  samples: Float64Array,
  n: number,
  dim: number,
  chains: number,
  stats: (x: Float64Array, off: number) => number[],
): Float64Array[] {
  const perChain = Math.floor(n / chains);
  let out: Float64Array[] = [];
  for (let c = 0; c < chains; c++) {
    for (let s = 0; s < perChain; s++) {
      const v = stats(samples, (s * chains + c) * dim);
      if (out.length === 0) out = v.map(() => new Float64Array(chains));
      v.forEach((vi, k) => (out[k][c] += vi / perChain));
    }
  }
  return out;
}

/** z = (mean − expected)/se of independent values. */
export function zScore(values: ArrayLike<number>, expected: number): number {
  const { mean, se } = meanAndSe(values);
  return (mean - expected) / se;
}

/** Two-sample z: (mean_a − mean_b)/√(se_a² + se_b²) from independent values. */
export function twoSampleZ(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const A = meanAndSe(a);
  const B = meanAndSe(b);
  return (A.mean - B.mean) / Math.hypot(A.se, B.se);
}
