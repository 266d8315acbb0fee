import { UserError } from '../core/errors.js';
import type { Force } from './force.js';

/**
 * OpenMM's CMMotionRemover: an integrator-side action that removes centre-of-mass
 * velocity every `frequency` steps. It has no energy and no force; it is kept so a
 * System read from XML lists every force it declared, and samplers may consult it.
 */
export class CMMotionRemover implements Force {
  readonly maxParticleIndex = -1;

  constructor(
    readonly frequency = 1,
    readonly name = 'CMMotionRemover',
  ) {
    if (!Number.isInteger(frequency) || frequency < 1) throw new UserError(`${name}: frequency must be a positive integer, got ${frequency}`);
  }

  evaluate(): number {
    return 0;
  }
}
