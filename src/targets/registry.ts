import { UserError } from '../core/errors.js';
import type { Target } from './target.js';

/** Options a target factory accepts (validated by the factory). */
export type TargetOptions = Record<string, unknown>;
type Factory = (opts: TargetOptions) => Target;

const factories = new Map<string, Factory>();

/** Registers a target factory under a name (called by each target module). */
export function registerTarget(name: string, factory: Factory): void {
  factories.set(name, factory);
}

export function targetNames(): string[] {
  return [...factories.keys()].sort();
}

/** A fresh target instance (with its own evaluation counter). Unknown names list the valid ones. */
export function createTarget(name: string, opts: TargetOptions = {}): Target {
  const f = factories.get(name);
  if (!f) throw new UserError(`unknown target '${name}'; valid targets: ${targetNames().join(', ')}`);
  return f(opts);
}
