/**
 * Helpers shared by the single-rung experiment scripts (rung.ts, train-rung.ts,
 * score-check.ts): the `--set key=value` overrides of a YAML config, and the
 * run config of a one-rung experiment on rows read from a file.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { parseRunConfig, type RunConfig } from '../../src/pita/config.js';

/** Sets `path` (dotted) in a plain object to a YAML-parsed value (`a.b.c=value`). */
export function setKey(obj: Record<string, unknown>, assignment: string): void {
  const eq = assignment.indexOf('=');
  if (eq < 1) throw new Error(`--set needs key=value, got ${assignment}`);
  const path = assignment.slice(0, eq).split('.');
  let o = obj;
  for (const p of path.slice(0, -1)) {
    if (typeof o[p] !== 'object' || o[p] === null) o[p] = {};
    o = o[p] as Record<string, unknown>;
  }
  o[path[path.length - 1]] = parseYaml(assignment.slice(eq + 1)) as unknown;
}

/**
 * The config at `path` with the `sets` applied, a two-temperature ladder
 * (no temperature conditioning), the data read from `dataFile`, and `steps`
 * training steps on the first rung.
 */
export function rungConfig(path: string, sets: readonly string[], temperatures: [number, number], dataFile: string, steps: number): RunConfig {
  const raw = parseYaml(readFileSync(path, 'utf8')) as Record<string, unknown>;
  for (const s of sets) setKey(raw, s);
  const ladder = (raw.ladder ?? {}) as Record<string, unknown>;
  raw.ladder = { ...ladder, temperatures, trainOnAllTemperatures: false };
  raw.data = { ...(raw.data as object), source: 'file', file: dataFile };
  const training = raw.training as Record<string, unknown>;
  raw.training = { ...training, stepsPerTemperature: [steps] };
  return parseRunConfig(raw, path);
}
