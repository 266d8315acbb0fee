/**
 * Checks the contents of every input file a run config names (data.file,
 * evaluation.reference) before any work: shape [n, dim] for the target, at
 * least one row, every value finite. Called before the run directory is
 * created, so a bad file leaves nothing behind; every message names the
 * config key and the file.
 */
import { existsSync } from 'node:fs';
import { UserError } from '../core/errors.js';
import { readConfigurations } from '../io/configurations.js';
import type { Target } from '../targets/target.js';
import type { RunConfig } from './config.js';

export function validateRunInputs(cfg: RunConfig, target: Target): void {
  const files: [string, string | undefined][] = [
    ['data.file', cfg.data.source === 'file' ? cfg.data.file : undefined],
    ['evaluation.reference', cfg.evaluation.reference !== 'generate' ? cfg.evaluation.reference : undefined],
  ];
  for (const [key, path] of files) {
    if (path === undefined) continue;
    if (!existsSync(path)) throw new UserError(`${key} ${path} not found`);
    readConfigurations(path, target, key);
  }
}
