/**
 * Registers the built-in targets: `gmm40`, `dw4`, `lj13`, `lj55`, the
 * correlated Gaussian `gaussian2d`, and the peptides `aldp` and `al3`.
 * Importing this module is what registers them. Each factory rejects unknown option
 * keys (naming the valid ones) and non-numeric values; value ranges are
 * checked by the target constructors.
 */
import { UserError } from '../core/errors.js';
import { registerTarget, type TargetOptions } from './registry.js';
import { createPeptideTarget } from './molecule.js';
import { createGmm40 } from './gmm40.js';
import { DoubleWellTarget, DW4_DEFAULTS } from './dw4.js';
import { LennardJonesTarget, LJ_DEFAULTS } from './lj.js';

/**
 * `defaults` overridden by `opts`. Throws a UserError for a non-object
 * `opts`, a key not in `defaults` (listing the valid keys) or a value that is
 * not a finite number.
 */
export function numericOptions<K extends string>(
  target: string,
  opts: TargetOptions,
  defaults: Readonly<Record<K, number>>,
): Record<K, number> {
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) {
    throw new UserError(`target ${target}: options must be an object, got ${Array.isArray(opts) ? 'an array' : String(opts)}`);
  }
  const valid = Object.keys(defaults).sort();
  const out = { ...defaults } as Record<K, number>;
  for (const [key, value] of Object.entries(opts)) {
    if (!Object.hasOwn(defaults, key)) {
      const list = valid.length > 0 ? valid.join(', ') : '(none)';
      throw new UserError(`target ${target}: unknown option '${key}'; valid options: ${list}`);
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new UserError(`target ${target}: option ${key} must be a finite number, got ${JSON.stringify(value)}`);
    }
    out[key as K] = value;
  }
  return out;
}

registerTarget('gmm40', (opts) => {
  numericOptions('gmm40', opts, {});
  return createGmm40();
});

registerTarget('dw4', (opts) => new DoubleWellTarget(numericOptions('dw4', opts, DW4_DEFAULTS)));

for (const nParticles of [13, 55]) {
  const name = `lj${nParticles}`;
  registerTarget(name, (opts) => new LennardJonesTarget({ ...numericOptions(name, opts, LJ_DEFAULTS), nParticles }, name));
}
import './gaussian.js';

for (const name of ['aldp', 'al3']) {
  registerTarget(name, (opts) => {
    numericOptions(name, opts, {});
    return createPeptideTarget(name);
  });
}
