/**
 * The run-directory format, defined once: `pita run` writes it through
 * writer.ts and `pita report`/`pita serve` read it through reader.ts.
 * Everything a user reads is in physical units.
 *
 *   config.yaml              the resolved configuration
 *   log.jsonl                one LogRecord per line (training steps, annealing steps, rung summaries, warnings, initial data)
 *   checkpoints/             trainer + buffers (safetensors), a part-way annealing state, and progress.json, the commit point
 *   samples/T_<k>.npy        float64 [n, dim] samples at each rung temperature (T_0: the initial data)
 *   samples/reference.npy    the generated reference at T_K (evaluation.reference: generate)
 *   metrics.json             metrics against the reference (if any) and the energy-evaluation budget
 *   summary.md               a short human summary
 *
 * This module holds names and types only (no tensor code), so readers load
 * nothing of the orchestrator.
 */
import { join } from 'node:path';
import type { SampleMetrics } from '../metrics/evaluate.js';
import type { AnnealStepLog } from '../pita/anneal.js';
import type { StepLog } from '../pita/trainer.js';

export const CONFIG_FILE = 'config.yaml';
export const LOG_FILE = 'log.jsonl';
export const CHECKPOINT_DIR = 'checkpoints';
export const PROGRESS_FILE = join(CHECKPOINT_DIR, 'progress.json');
export const SAMPLES_DIR = 'samples';
export const REFERENCE_FILE = join(SAMPLES_DIR, 'reference.npy');
export const METRICS_FILE = 'metrics.json';
export const SUMMARY_FILE = 'summary.md';

/** samples/T_<k>.npy, relative to the run directory. */
export function samplesFile(rung: number): string {
  return join(SAMPLES_DIR, `T_${rung}.npy`);
}

/** The checkpoint written after `step` training steps on `rung` (a file name inside checkpoints/). */
export function checkpointName(rung: number, step: number): string {
  return `rung${rung}-step${step}.safetensors`;
}

/** The annealing state of rung `rung` (T_rung → T_rung+1) before its annealing step `step` (a file name inside checkpoints/). */
export function annealCheckpointName(rung: number, step: number): string {
  return `rung${rung}-anneal${step}.safetensors`;
}

/** A rung's first checkpoint, which is kept when later periodic ones are dropped. */
export function isRungStartCheckpoint(name: string): boolean {
  return name.endsWith('-step0.safetensors');
}

/** Evaluation components that count toward the method's cost (docs/algorithm.md, "Cost"); 'evaluation' and 'baseline' do not. */
export const METHOD_COMPONENTS = ['initial-data', 'buffer-fill', 'final-reweight', 'relaxation'] as const;

/** checkpoints/progress.json: rewritten atomically after each checkpoint (trainer or annealing); resuming starts from it. */
export interface ProgressFile {
  version: 1;
  /** Rung whose training is in progress (or K when the run is finished training). */
  rung: number;
  /** Training steps done on `rung`. */
  stepOnRung: number;
  /** File name of the latest checkpoint inside checkpoints/. */
  checkpoint: string;
  /** Energy evaluations by component (EvalCounter.breakdown()). */
  evaluations: Record<string, number>;
  rungs: RungSummary[];
  done: boolean;
  /** Length of log.jsonl at this commit point; a resume cuts the log back to it (absent in older runs). */
  logBytes?: number;
  /**
   * File name (inside checkpoints/) of the annealing checkpoint of `rung`, when its training is done and its
   * annealing stopped part way: a resume goes on from that annealing step. Absent otherwise (and in older runs,
   * which then redo the rung's annealing from its start, with the same result).
   */
  anneal?: string;
}

/** One annealing rung T_{k−1} → T_k, as logged ("rung" records), in progress.json and in metrics.json. */
export interface RungSummary {
  rung: number;
  temperature: number;
  beta: number;
  gamma: number;
  particles: number;
  kept: number;
  resamplings: number;
  minEss: number;
  reweightEss: number;
  uniqueAfterReweight: number;
  relaxationAcceptance: number | null;
  meanReducedEnergy: number;
  seconds: number;
}

/** metrics.json. */
export interface MetricsFile {
  target: string;
  temperatures: number[];
  evaluations: { byComponent: Record<string, number>; method: number; evaluationOnly: number };
  rungs: RungSummary[];
  pita: SampleMetrics | null;
  baseline: { sampler: string; evaluations: number; metrics: SampleMetrics | null } | null;
}

/** The records of log.jsonl, one JSON object per line, told apart by `type`. */
export type LogRecord =
  | ({ type: 'train'; rung: number } & StepLog)
  | ({ type: 'anneal'; rung: number } & AnnealStepLog)
  | ({ type: 'rung' } & RungSummary)
  | { type: 'warning'; rung: number; message: string }
  | { type: 'warning'; phase: 'initial-data'; message: string }
  /** The tensor device the run used (BackendInfo.device) and its training threads (data-parallel workers), first line of a run. */
  | { type: 'device'; device: string; workers?: number }
  | ({ type: 'initial-data'; sampler: string } & Record<string, unknown>);
