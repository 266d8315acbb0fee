/**
 * Writing a run directory (the format is in schema.ts). Every file that a
 * resume or a report trusts is replaced atomically; log.jsonl is appended
 * line by line, and readers ignore an unterminated last line.
 */
import { existsSync, mkdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as yamlStringify } from 'yaml';
import { writeFileAtomic } from '../core/atomic.js';
import { UserError } from '../core/errors.js';
import { readJsonFile } from '../io/json.js';
import {
  CHECKPOINT_DIR,
  CONFIG_FILE,
  LOG_FILE,
  METRICS_FILE,
  PROGRESS_FILE,
  REFERENCE_FILE,
  SAMPLES_DIR,
  SUMMARY_FILE,
  samplesFile,
  type LogRecord,
  type MetricsFile,
  type ProgressFile,
} from './schema.js';

export class RunDirectoryWriter {
  constructor(readonly dir: string) {}

  /** True when the directory already holds a run (it has progress.json). */
  holdsRun(): boolean {
    return existsSync(join(this.dir, PROGRESS_FILE));
  }

  /**
   * Creates the folders, writes config.yaml and starts log.jsonl empty: a
   * directory without progress.json holds no commit point, so lines of an
   * attempt stopped before its first checkpoint are not kept.
   */
  create(config: unknown): void {
    mkdirSync(join(this.dir, CHECKPOINT_DIR), { recursive: true });
    mkdirSync(join(this.dir, SAMPLES_DIR), { recursive: true });
    writeFileAtomic(join(this.dir, CONFIG_FILE), yamlStringify(config));
    writeFileSync(join(this.dir, LOG_FILE), '');
  }

  appendLog(record: LogRecord): void {
    writeFileSync(join(this.dir, LOG_FILE), JSON.stringify(record) + '\n', { flag: 'a' });
  }

  /** Path of config.yaml (a resume compares it with the config it is given). */
  configPath(): string {
    return join(this.dir, CONFIG_FILE);
  }

  /** The commit point; a corrupt file is a one-line UserError. */
  readProgress(): ProgressFile {
    const path = join(this.dir, PROGRESS_FILE);
    const hint = 'the run cannot be resumed; start it again in another --out';
    const p = readJsonFile<ProgressFile>(path, 'run progress', hint);
    if (typeof p?.checkpoint !== 'string' || typeof p.rung !== 'number' || !Array.isArray(p.rungs)) throw new UserError(`run progress ${path} is corrupt; ${hint}`);
    return p;
  }

  /** Current length of log.jsonl in bytes (0 before the first line). */
  logBytes(): number {
    const path = join(this.dir, LOG_FILE);
    return existsSync(path) ? statSync(path).size : 0;
  }

  /** Cuts log.jsonl back to `bytes` (a commit point's length; nothing when undefined), so redone work logs once. */
  truncateLog(bytes: number | undefined): void {
    if (bytes !== undefined && this.logBytes() > bytes) truncateSync(join(this.dir, LOG_FILE), bytes);
  }

  writeProgress(progress: ProgressFile): void {
    writeFileAtomic(join(this.dir, PROGRESS_FILE), JSON.stringify(progress, null, 1));
  }

  /** Path of a checkpoint file named by schema.checkpointName. */
  checkpointPath(name: string): string {
    return join(this.dir, CHECKPOINT_DIR, name);
  }

  removeCheckpoint(name: string): void {
    rmSync(this.checkpointPath(name), { force: true });
  }

  /** samples/T_<rung>.npy. */
  samplesPath(rung: number): string {
    return join(this.dir, samplesFile(rung));
  }

  referencePath(): string {
    return join(this.dir, REFERENCE_FILE);
  }

  /** metrics.json, or null when the run has not been evaluated. */
  readMetrics(): MetricsFile | null {
    const path = join(this.dir, METRICS_FILE);
    return existsSync(path) ? readJsonFile<MetricsFile>(path, 'metrics', 'delete it and resume to recompute it') : null;
  }

  writeMetrics(metrics: MetricsFile): void {
    writeFileAtomic(join(this.dir, METRICS_FILE), JSON.stringify(metrics, null, 2));
  }

  writeSummary(markdown: string): void {
    writeFileAtomic(join(this.dir, SUMMARY_FILE), markdown);
  }
}
