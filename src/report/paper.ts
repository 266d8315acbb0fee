/**
 * The rows of the report's metrics table: each of our metrics, and the PITA
 * paper's published value where one exists. The published numbers come from
 * a secondary summary of the paper and have not been checked against it;
 * the report says so next to them.
 */
import type { SampleMetrics } from '../metrics/evaluate.js';

export const PAPER_SOURCE_NOTE = 'from a secondary summary, unverified';

export interface MetricRow {
  label: string;
  /** Our value, or null where the metric does not apply or is not computed. */
  value: (m: SampleMetrics) => number | null;
  /** Published values by target name. */
  paper: Partial<Record<string, number>>;
  /** How our quantity differs from the paper's, where it does. */
  note?: string;
}

export const METRIC_ROWS: readonly MetricRow[] = [
  { label: 'energy W1 (E/kT)', value: (m) => m.energyW1, paper: { aldp: 1.53, al3: 2.567 } },
  { label: 'energy W2 (E/kT)', value: (m) => m.energyW2, paper: { lj13: 2.26, aldp: 1.615, al3: 2.592 } },
  { label: 'distance W2', value: (m) => m.distanceW2, paper: { lj13: 0.04 } },
  {
    label: 'sample W2 (exact OT)',
    value: (m) => m.sampleW2,
    paper: { lj13: 1.65 },
    note: "the paper's LJ-13 number is its 'geometric W2'; ours is exact OT on mean-free coordinates of a subsample, without rotation alignment",
  },
  { label: 'MMD² (RBF, median bandwidth)', value: (m) => m.mmd2, paper: {} },
  { label: 'torus W2 (T-W2, backbone angles)', value: (m) => m.peptide?.torusW2 ?? null, paper: { aldp: 0.27 } },
  { label: 'TICA W2 (2 components)', value: (m) => m.peptide?.ticaW2 ?? null, paper: { al3: 0.952 } },
  { label: 'TICA W1', value: () => null, paper: { aldp: 0.112 }, note: 'not computed here (we report TICA W2)' },
  {
    label: 'Rama-KL (unsmoothed, FAB definition)',
    value: (m) => m.peptide?.ramaKLUnsmoothed ?? null,
    paper: { aldp: 4.773, al3: 1.209 },
    note: "the paper's definition is not stated in its code; compare at equal sample sizes (src/metrics/ramachandran.ts)",
  },
  { label: 'Rama-KL (smoothed, 1.5 bins)', value: (m) => m.peptide?.ramaKL ?? null, paper: {} },
  { label: 'chirality: correct rate', value: (m) => m.peptide?.chiralityCorrectRate ?? null, paper: {} },
  { label: 'chirality: uncorrectable rate', value: (m) => m.peptide?.chiralityUncorrectableRate ?? null, paper: {} },
];

/** Whether the paper published any number for `target`. */
export function hasPaperNumbers(target: string): boolean {
  return METRIC_ROWS.some((r) => r.paper[target] !== undefined);
}
