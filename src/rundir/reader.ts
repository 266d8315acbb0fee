/**
 * Reading a PITA run directory (format: schema.ts) for reports and the live
 * dashboard. Every file is optional: a run that is still training, was
 * stopped mid-rung or never evaluated is read as far as it goes, and the
 * status says what is missing. The run may be writing while we read, so
 * log.jsonl's last line counts only once it ends with a newline.
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync as readFromFd, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { UserError } from '../core/errors.js';
import { readJsonFile } from '../io/json.js';
import { parseRunConfig, type RunConfig } from '../pita/config.js';
import type { AnnealStepLog } from '../pita/anneal.js';
import type { StepLog } from '../pita/trainer.js';
import { CONFIG_FILE, LOG_FILE, METRICS_FILE, PROGRESS_FILE, samplesFile, type MetricsFile, type ProgressFile, type RungSummary } from './schema.js';

/** One training step (log.jsonl type "train"): the trainer's StepLog and its rung. */
export type TrainRecord = Omit<StepLog, 'source'> & { rung: number };

/** One logged annealing step (log.jsonl type "anneal"), annealing T_rung → T_rung+1. */
export type AnnealRecord = AnnealStepLog & { rung: number };

/**
 * Diagnostics of the classical sampler that made the initial data (log.jsonl
 * type "initial-data"; optional): `sampler` ('pt', 'mala', 'md'), and where
 * the sampler has them `acceptance` (local moves, sampling phase),
 * `swapAcceptance` per neighbour pair and `temperatures` (PT), `roundTrips`
 * (PT), `meanKineticTemperature` (MD).
 */
export interface InitialDataRecord {
  sampler: string;
  acceptance: number | null;
  temperatures: number[] | null;
  swapAcceptance: number[] | null;
  roundTrips: number | null;
  meanKineticTemperature: number | null;
}

export interface RunLog {
  train: TrainRecord[];
  anneal: AnnealRecord[];
  rungs: RungSummary[];
  initialData: InitialDataRecord[];
  /** Run warnings (e.g. a collapsed final reweight), in order. */
  warnings: { rung: number; message: string }[];
  /** The tensor device and worker threads of the last start (log type "device"; a resume writes one more). */
  device: { device: string; workers: number | null } | null;
  /** Complete lines that are not JSON objects of a known type. */
  unreadable: number;
}

/** The commit point checkpoints/progress.json (the fields a report needs). */
export type RunProgress = Pick<ProgressFile, 'rung' | 'stepOnRung' | 'done' | 'rungs' | 'evaluations' | 'anneal'>;

export type RunState = 'complete' | 'evaluating' | 'incomplete' | 'not-started';

export interface RunStatus {
  state: RunState;
  /** One sentence for people, e.g. "incomplete: training rung 1 (15 of 30 steps); 1 of 2 annealing steps done". */
  text: string;
}

export interface RunDirectory {
  dir: string;
  name: string;
  configText: string | null;
  config: RunConfig | null;
  /** Why config.yaml could not be used (missing, bad YAML, invalid keys). */
  configError: string | null;
  log: RunLog;
  progress: RunProgress | null;
  metrics: MetricsFile | null;
  /** samples/T_<k>.npy files present, by rung. */
  samples: { rung: number; path: string }[];
  status: RunStatus;
}

export function emptyLog(): RunLog {
  return { train: [], anneal: [], rungs: [], initialData: [], warnings: [], device: null, unreadable: 0 };
}

const num = (v: unknown): number => (typeof v === 'number' ? v : NaN);
/** The numeric fields of a training-step and an annealing-step record. */
const TRAIN_FIELDS = ['loss', 'lossScore', 'lossEnergyScore', 'lossEnergyMatching', 'lossTargetScore', 'gradNorm', 'lr', 'seconds'] as const;
const ANNEAL_FIELDS = ['t', 'sigma', 'ess', 'logWeightVariance', 'unique'] as const;

/** `keys` of a record as numbers (see `num`). */
function numbers<K extends string>(r: Record<string, unknown>, keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, num(r[k])])) as Record<K, number>;
}
const numOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const numArray = (v: unknown): number[] | null => (Array.isArray(v) && v.every((a) => typeof a === 'number') ? (v as number[]) : null);

/** Adds one log line to `log`; non-finite values written as null by JSON become NaN. */
export function addLogLine(log: RunLog, line: string): void {
  if (line.trim() === '') return;
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    log.unreadable++;
    return;
  }
  if (typeof o !== 'object' || o === null) {
    log.unreadable++;
    return;
  }
  const r = o as Record<string, unknown>;
  if (r.type === 'train' && Number.isInteger(r.rung) && Number.isInteger(r.step)) {
    log.train.push({ rung: r.rung as number, step: r.step as number, ...numbers(r, TRAIN_FIELDS) });
  } else if (r.type === 'anneal' && Number.isInteger(r.rung) && Number.isInteger(r.step)) {
    log.anneal.push({ rung: r.rung as number, step: r.step as number, ...numbers(r, ANNEAL_FIELDS), resampled: r.resampled === true });
  } else if (r.type === 'rung' && Number.isInteger(r.rung)) {
    const { type: _type, ...rest } = r;
    log.rungs.push(rest as unknown as RungSummary);
  } else if (r.type === 'warning' && typeof r.message === 'string') {
    log.warnings.push({ rung: num(r.rung), message: r.message });
  } else if (r.type === 'device' && typeof r.device === 'string') {
    log.device = { device: r.device, workers: numOrNull(r.workers) };
  } else if (r.type === 'initial-data' && typeof r.sampler === 'string') {
    log.initialData.push({
      sampler: r.sampler,
      acceptance: numOrNull(r.acceptance),
      temperatures: numArray(r.temperatures),
      swapAcceptance: numArray(r.swapAcceptance),
      roundTrips: numOrNull(r.roundTrips),
      meanKineticTemperature: numOrNull(r.meanKineticTemperature),
    });
  } else {
    log.unreadable++;
  }
}

/**
 * Incremental reader of a growing log.jsonl: `poll()` reads the bytes
 * appended since the last call and parses the complete lines; a file that
 * shrank (rewritten) is read again from the start.
 */
export class LogTail {
  log: RunLog = emptyLog();
  private offset = 0;
  private partial = '';

  constructor(readonly path: string) {}

  /** Reads new complete lines; true when the log changed. */
  poll(): boolean {
    if (!existsSync(this.path)) return false;
    const fd = openSync(this.path, 'r');
    try {
      const size = fstatSync(fd).size;
      if (size < this.offset) {
        this.log = emptyLog();
        this.offset = 0;
        this.partial = '';
      }
      if (size === this.offset) return false;
      const buf = Buffer.alloc(size - this.offset);
      let got = 0;
      while (got < buf.length) {
        const n = readFromFd(fd, buf, got, buf.length - got, this.offset + got);
        if (n === 0) break;
        got += n;
      }
      this.offset += got;
      const text = this.partial + buf.subarray(0, got).toString('utf8');
      const lines = text.split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) addLogLine(this.log, line);
      return lines.length > 0;
    } finally {
      closeSync(fd);
    }
  }
}

/** Parses the text of a whole log.jsonl (an unterminated last line is ignored). */
export function parseLog(text: string): RunLog {
  const log = emptyLog();
  const lines = text.split('\n');
  lines.pop();
  for (const line of lines) addLogLine(log, line);
  return log;
}

function readProgress(path: string): RunProgress | null {
  if (!existsSync(path)) return null;
  const p = readJsonFile<Partial<RunProgress>>(path, 'run progress');
  if (!Number.isInteger(p.rung) || !Number.isInteger(p.stepOnRung) || typeof p.done !== 'boolean') {
    throw new UserError(`${path} is not a PITA progress file (needs integer rung and stepOnRung and boolean done)`);
  }
  return { rung: p.rung!, stepOnRung: p.stepOnRung!, done: p.done, rungs: p.rungs ?? [], evaluations: p.evaluations ?? {}, ...(typeof p.anneal === 'string' ? { anneal: p.anneal } : {}) };
}

function readConfig(path: string): { text: string | null; config: RunConfig | null; error: string | null } {
  if (!existsSync(path)) return { text: null, config: null, error: 'config.yaml is missing' };
  const text = readFileSync(path, 'utf8');
  try {
    return { text, config: parseRunConfig(parseYaml(text), path), error: null };
  } catch (e) {
    return { text, config: null, error: (e as Error).message };
  }
}

/** Training steps planned on rung k of a config (0-based; the last rung trains stepsAfterLast). */
export function plannedSteps(config: RunConfig, k: number): number {
  const K = config.ladder.temperatures.length - 1;
  if (k >= K) return config.training.stepsAfterLast;
  const s = config.training.stepsPerTemperature;
  return Array.isArray(s) ? s[k] : s;
}

/** The state of a run from its files (the log only matters before the first checkpoint). */
export function runStatus(config: RunConfig | null, progress: RunProgress | null, metrics: MetricsFile | null, log: RunLog): RunStatus {
  if (metrics) return { state: 'complete', text: 'complete: every rung trained and annealed, metrics written' };
  const last = log.train.at(-1);
  if (!progress && last) return { state: 'incomplete', text: `incomplete: training rung ${last.rung} (step ${last.step} logged), no checkpoint yet` };
  if (!progress) return { state: 'not-started', text: 'not started: no checkpoints/progress.json yet (initial data may still be generating)' };
  if (progress.done) return { state: 'evaluating', text: 'incomplete: all rungs done, metrics.json not written yet (evaluation running or stopped)' };
  const K = config ? config.ladder.temperatures.length - 1 : null;
  const planned = config ? ` of ${plannedSteps(config, progress.rung)}` : '';
  const annealed = K === null ? `${progress.rungs.length}` : `${progress.rungs.length} of ${K}`;
  if (progress.anneal) {
    return { state: 'incomplete', text: `incomplete: rung ${progress.rung} trained, its annealing stopped part way (checkpoints/${progress.anneal}); ${annealed} annealing steps done` };
  }
  return {
    state: 'incomplete',
    text: `incomplete: training rung ${progress.rung} (${progress.stepOnRung}${planned} steps at the last checkpoint); ${annealed} annealing steps done`,
  };
}

/**
 * Reads a run directory; throws UserError when `dir` is not a directory or
 * holds none of a run's files. `log: false` skips log.jsonl (an empty log),
 * for listings.
 */
export function readRunDirectory(dir: string, opts: { log?: boolean } = {}): RunDirectory {
  const abs = resolve(dir);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) throw new UserError(`run directory ${dir} not found`);
  if (!isRunDirectory(abs)) throw new UserError(`${dir} is not a run directory: it has neither config.yaml nor log.jsonl`);
  const c = readConfig(join(abs, CONFIG_FILE));
  const logPath = join(abs, LOG_FILE);
  const log = opts.log !== false && existsSync(logPath) ? parseLog(readFileSync(logPath, 'utf8')) : emptyLog();
  const progress = readProgress(join(abs, PROGRESS_FILE));
  const metricsPath = join(abs, METRICS_FILE);
  const metrics = existsSync(metricsPath) ? readJsonFile<MetricsFile>(metricsPath, 'metrics', 'delete it and run pita run --resume to recompute it') : null;
  const samples: { rung: number; path: string }[] = [];
  const K = c.config ? c.config.ladder.temperatures.length - 1 : Infinity;
  for (let k = 0; k <= K; k++) {
    const path = join(abs, samplesFile(k));
    if (!existsSync(path)) break;
    samples.push({ rung: k, path });
  }
  return {
    dir: abs,
    name: basename(abs),
    configText: c.text,
    config: c.config,
    configError: c.error,
    log,
    progress,
    metrics,
    samples,
    status: runStatus(c.config, progress, metrics, log),
  };
}

/** A run directory has config.yaml or log.jsonl. */
export function isRunDirectory(dir: string): boolean {
  return existsSync(join(dir, CONFIG_FILE)) || existsSync(join(dir, LOG_FILE));
}

/** Rung summaries: from metrics.json, else progress.json, else the log. */
export function rungSummaries(run: Pick<RunDirectory, 'metrics' | 'progress' | 'log'>): RungSummary[] {
  return run.metrics?.rungs ?? run.progress?.rungs ?? run.log.rungs;
}
