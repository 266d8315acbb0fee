/**
 * What the sampling driver checks after a run, so that unusable samples never
 * come back without a word: the convergence report of the returned samples
 * (convergence.ts), acceptance below 1 % after warm-up, and an adaptive
 * warm-up that hit its cap. Returned as data; the CLI prints the warnings.
 */
import type { Target } from '../targets/target.js';
import { WARMUP_RHAT } from './auto-warmup.js';
import { convergenceReport, type ConvergenceReport } from './convergence.js';
import type { PtSummary } from './run.js';

/** What the checks read of the sampled system. */
type Sampled = Pick<Target, 'dim' | 'nParticles'>;

/** Acceptance after warm-up below this warns. */
export const MIN_ACCEPTANCE = 0.01;

export interface SamplerCheckInput {
  name: string;
  target: Sampled;
  /** The returned samples [n, dim] and energies [n], draw-major over `chains`. */
  samples: Float64Array;
  energies: Float64Array;
  n: number;
  chains: number;
  warmup: number;
  thin: number;
  /** Acceptance during sampling (null for Langevin). */
  acceptance: number | null;
  stepSize: Float64Array | null;
  pt: PtSummary | undefined;
  /** Adaptive warm-up: the R̂ at its last check (auto-warmup.ts) and its cap; null when warmup was given. */
  autoWarmup: { rhat: number; max: number } | null;
  /** Adaptive thin: the autocorrelation time over the warm-up (steps; energy and traced coordinates) and the cap; null when thin was given. */
  autoThin: { tau: number; max: number } | null;
}

export function samplerChecks(i: SamplerCheckInput): { convergence: ConvergenceReport; warnings: string[] } {
  const warnings: string[] = [];
  if (i.acceptance !== null && i.acceptance < MIN_ACCEPTANCE && i.stepSize) {
    const h = [...i.stepSize];
    const lo = Math.min(...h).toPrecision(3);
    const hi = Math.max(...h).toPrecision(3);
    warnings.push(
      `acceptance ${(100 * i.acceptance).toFixed(2)} % after warm-up is below ${100 * MIN_ACCEPTANCE} %: the chains barely move; ` +
        `reduce the step size (stepSize, --step-size; adapted to ${lo === hi ? lo : `${lo}–${hi}`}) or lengthen the warm-up`,
    );
  }
  if (i.autoWarmup && i.warmup >= i.autoWarmup.max && !(i.autoWarmup.rhat <= WARMUP_RHAT)) {
    warnings.push(
      `the adaptive warm-up reached its cap of ${i.autoWarmup.max} steps with R̂ ${i.autoWarmup.rhat.toPrecision(4)} (energy${i.target.nParticles === 1 ? ' and coordinates' : ''}); raise the cap (maxWarmup, --max-warmup)${i.name === 'pt' ? '' : ' or use pt'}`,
    );
  }
  if (i.autoThin && 2 * i.autoThin.tau > i.autoThin.max) {
    warnings.push(
      `twice the autocorrelation time (${Math.round(i.autoThin.tau)} steps over the warm-up) exceeds the cap of the adaptive thin, ${i.autoThin.max}: the samples are correlated; raise the cap (maxThin, --max-thin)${i.name === 'pt' ? '' : ' or use pt'}`,
    );
  }
  // Only full collections: draw d of chain c is row d·chains + c.
  const draws = Math.floor(i.n / i.chains);
  const pt = i.pt;
  const convergence = convergenceReport({
    x: i.samples,
    energy: i.energies,
    chains: i.chains,
    drawsPerChain: draws,
    dim: i.target.dim,
    coordinatesIdentifiable: i.target.nParticles === 1,
    remedy: `the warm-up (warmup, now ${i.warmup}) or the spacing of the samples (thin, now ${i.thin})`,
    ...(pt ? { roundTrips: { total: pt.roundTrips, replicas: pt.temperatures.length, walkers: i.chains * pt.temperatures.length } } : {}),
  });
  return { convergence, warnings: [...warnings, ...convergence.warnings] };
}

/**
 * The convergence report of an MD run (pita md, PITA's MD initial data):
 * frames are frame-major over `replicas` trajectories, the layout the report
 * reads, so each replica is one chain.
 */
export function mdChecks(target: Sampled, frames: Float64Array, energies: Float64Array, nFrames: number, replicas: number, warmupSteps: number, interval: number): ConvergenceReport {
  return convergenceReport({
    x: frames,
    energy: energies,
    chains: replicas,
    drawsPerChain: Math.floor(nFrames / replicas),
    dim: target.dim,
    coordinatesIdentifiable: target.nParticles === 1,
    remedy: `the warm-up (now ${warmupSteps} steps), the run (more frames), or the interval (now ${interval} steps); more replicas help R̂`,
  });
}
