/**
 * Which settings differ between the configuration a run was started with and
 * the one it is resumed with (`pita run --resume`, `pita md --resume`).
 * Nested objects are compared key by key and named by dotted paths
 * (training.batchSize); arrays and scalars are compared whole by their JSON.
 */
export interface ConfigChange {
  key: string;
  saved: unknown;
  current: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function changedKeys(saved: unknown, current: unknown, prefix = ''): ConfigChange[] {
  if (isObject(saved) && isObject(current)) {
    const keys = [...new Set([...Object.keys(saved), ...Object.keys(current)])].sort();
    return keys.flatMap((k) => changedKeys(saved[k], current[k], prefix ? `${prefix}.${k}` : k));
  }
  return JSON.stringify(saved) === JSON.stringify(current) ? [] : [{ key: prefix || '(config)', saved, current }];
}

/** "seed: 1 → 2, annealing.particles: 128 → 64" (missing values shown as "unset"). */
export function describeChanges(changes: readonly ConfigChange[]): string {
  const show = (v: unknown) => (v === undefined ? 'unset' : JSON.stringify(v));
  return changes.map((c) => `${c.key}: ${show(c.saved)} → ${show(c.current)}`).join(', ');
}
