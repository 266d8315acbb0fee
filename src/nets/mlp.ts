/**
 * A plain MLP vector field (no symmetry), for low-dimensional targets and as
 * a baseline:
 *
 *   F(c_noise, x_in, β) = Linear_out(SiLU(… SiLU(Linear_0([x_in, e(c_noise), β])) …))
 *
 * with e(c_noise) = c_noise (timeEmbedding 0) or its sinusoidal embedding of
 * `timeEmbedding` dims (layers.ts, DiT convention, max period 10⁴), and β
 * appended only when temperature-conditioned. `layers` hidden layers of width
 * `hidden`, each Linear → SiLU, then Linear(hidden → D).
 *
 * Initialisation: PyTorch's nn.Linear default for every layer,
 * W, b ~ U(±1/√fanIn). Parameters: mlp.layer{i}.w [in, hidden],
 * mlp.layer{i}.b [hidden], mlp.out.w [hidden, D], mlp.out.b [D].
 */
import type { Rng } from '../core/rng.js';
import { ParamStore, type Tensor, concat, silu } from '../tensor/index.js';
import { boolOption, intOption } from './config.js';
import { type Linear, addLinear, applyLinear, checkFieldInputs, sinusoidalEmbedding } from './layers.js';
import type { Network } from './types.js';

export interface MlpConfig {
  /** Input and output dimension D. */
  dim: number;
  /** Width of the hidden layers. */
  hidden: number;
  /** Number of hidden Linear → SiLU layers (≥ 1). */
  layers: number;
  conditionOnTemperature: boolean;
  /** 0 (default): c_noise enters raw; an even k ≥ 2: its k-dim sinusoidal embedding. */
  timeEmbedding?: number;
}

/** Architecture defaults used by createNetwork('mlp', …). */
export const MLP_DEFAULTS = { hidden: 128, layers: 3, timeEmbedding: 0, conditionOnTemperature: false } as const;

export function createMlp(config: MlpConfig, rng: Rng): Network {
  const where = 'mlp';
  const dim = intOption(where, 'dim', config.dim, 1);
  const hidden = intOption(where, 'hidden', config.hidden, 1);
  const layers = intOption(where, 'layers', config.layers, 1);
  const conditioned = boolOption(where, 'conditionOnTemperature', config.conditionOnTemperature);
  const timeEmbedding = config.timeEmbedding ?? 0;
  if (timeEmbedding !== 0) intOption(where, 'timeEmbedding', timeEmbedding, 2, true);

  const params = new ParamStore();
  const inputs = dim + Math.max(1, timeEmbedding) + (conditioned ? 1 : 0);
  const hiddenLayers: Linear[] = [];
  for (let i = 0; i < layers; i++) {
    hiddenLayers.push(addLinear(params, `mlp.layer${i}`, i === 0 ? inputs : hidden, hidden, rng));
  }
  const out = addLinear(params, 'mlp.out', hidden, dim, rng);

  const apply = (cNoise: Tensor, xIn: Tensor, beta: Tensor | null): Tensor => {
    checkFieldInputs(where, dim, conditioned, cNoise, xIn, beta);
    const time = timeEmbedding === 0 ? cNoise : sinusoidalEmbedding(cNoise, timeEmbedding);
    let h = concat(beta === null ? [xIn, time] : [xIn, time, beta], 1);
    for (const lin of hiddenLayers) h = silu(applyLinear(params, lin, h));
    return applyLinear(params, out, h);
  };

  return {
    kind: 'mlp',
    config: { hidden, layers, timeEmbedding, conditionOnTemperature: conditioned },
    params,
    dim,
    conditionOnTemperature: conditioned,
    apply,
  };
}
