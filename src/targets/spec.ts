import { UserError } from '../core/errors.js';
import { createTarget } from './index.js';
import { createSystemTarget } from './molecule.js';
import type { Target } from './target.js';

/** A target by name (`pita targets`) or an OpenMM System XML file: plain data, so a worker can build its own copy. */
export interface TargetSpec {
  target?: string;
  system?: string;
}

/** The target a spec names; exactly one of target and system must be given. */
export function targetFromSpec(spec: TargetSpec): Target {
  if (spec.target && spec.system) throw new UserError('give either --target or --system, not both');
  if (spec.system) return createSystemTarget(spec.system);
  if (!spec.target) throw new UserError('missing --target <name> (or --system <file.xml>); `pita targets` lists the targets');
  return createTarget(spec.target);
}
