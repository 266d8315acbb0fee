/**
 * PITA's two unit systems (docs/algorithm.md §1.1) and every conversion
 * between them. The target works in physical units (its length unit, its
 * energy unit, k_B); the networks, the buffers and the annealer work in model
 * units: coordinates divided by the data length scale s (`data.lengthScale`)
 * and energies as reduced log-densities at the buffer's temperature T.
 *
 *   x_model = x/s,            x = s·x_model
 *   ℓ = −E(x)/(k_B T)         (the target's logProb)
 *   f = ∇_{x_model} ℓ = s·F(x)/(k_B T),  F = −∇ₓE
 *
 * f is the chain rule applied to ℓ(s·x_model). Each conversion is written
 * once, here, because the buffer, the mask, the final reweight and the
 * annealed particles must agree on them to the last bit: a resumed run
 * reproduces the finished rungs exactly.
 */
import { logProb, type Target } from '../targets/target.js';

type Thermal = Pick<Target, 'kB'>;

/** β = 1/(k_B T). */
export function inverseTemperature(target: Thermal, temperature: number): number {
  return 1 / (target.kB * temperature);
}

/** Model coordinates x/s of physical ones (a new array). */
export function toModelCoordinates(x: Float64Array, lengthScale: number): Float64Array {
  return Float64Array.from(x, (v) => v / lengthScale);
}

/** Physical coordinates s·x of model ones (a new array). */
export function toPhysicalCoordinates(x: Float64Array, lengthScale: number): Float64Array {
  return Float64Array.from(x, (v) => v * lengthScale);
}

/** ℓ = −E/(k_B T) per row. */
export function logDensity(target: Thermal, energy: Float64Array, temperature: number): Float64Array {
  return logProb(target, energy, temperature);
}

/** f = s·F/(k_B T): the gradient of ℓ with respect to the model coordinates, from the physical forces F. */
export function modelScore(target: Thermal, forces: Float64Array, temperature: number, lengthScale: number): Float64Array {
  const beta = inverseTemperature(target, temperature);
  return Float64Array.from(forces, (f) => beta * lengthScale * f);
}

/** E/(k_B T) of one energy (−ℓ; used for summaries such as a rung's mean reduced energy). */
export function reducedEnergy(target: Thermal, energy: number, temperature: number): number {
  return energy / (target.kB * temperature);
}
