/**
 * Writing a run directory (the format is in schema.ts). Every file that a
 * resume or a report trusts is replaced atomically; log.jsonl is appended
 * line by line, and readers ignore an unterminated last line.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as yamlStringify } from 'yaml';
import { writeFileAtomic } from '../core/atomic.js';
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

  /** Creates the folders and writes config.yaml. */
  create(config: unknown): void {
    mkdirSync(join(this.dir, CHECKPOINT_DIR), { recursive: true });
    mkdirSync(join(this.dir, SAMPLES_DIR), { recursive: true });
    writeFileAtomic(join(this.dir, CONFIG_FILE), yamlStringify(config));
  }

  appendLog(record: LogRecord): void {
    writeFileSync(join(this.dir, LOG_FILE), JSON.stringify(record) + '\n', { flag: 'a' });
  }

  readProgress(): ProgressFile {
    return JSON.parse(readFileSync(join(this.dir, PROGRESS_FILE), 'utf8')) as ProgressFile;
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
    return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as MetricsFile) : null;
  }

  writeMetrics(metrics: MetricsFile): void {
    writeFileAtomic(join(this.dir, METRICS_FILE), JSON.stringify(metrics, null, 2));
  }

  writeSummary(markdown: string): void {
    writeFileAtomic(join(this.dir, SUMMARY_FILE), markdown);
  }
}
