/**
 * The networks: MLP, EGNN and DiT vector fields implementing the `Network`
 * contract of types.ts, and `createNetwork`, which builds one from a
 * user-facing configuration (defaults filled in, unknown keys rejected).
 */
import { UserError } from '../core/errors.js';
import type { Rng } from '../core/rng.js';
import { boolOption, checkConfigKeys, enumOption, intOption, positiveOption } from './config.js';
import { DIT_PRESETS, createDit } from './dit.js';
import { EGNN_DEFAULTS, EGNN_EXTENSION_DEFAULTS, createEgnn } from './egnn.js';
import { MLP_DEFAULTS, createMlp } from './mlp.js';
import type { Network } from './types.js';

export type { Network, VectorField } from './types.js';
export { type MlpConfig, MLP_DEFAULTS, createMlp } from './mlp.js';
export { type EgnnConfig, EGNN_DEFAULTS, EGNN_EXTENSION_DEFAULTS, createEgnn } from './egnn.js';
export { type DitArchitecture, type DitConfig, DIT_FREQUENCY_EMBEDDING, DIT_PRESETS, createDit } from './dit.js';
export { type RopeConstants, applyRope, applyRopeToHeads, ropeConstants } from './rope.js';

export type NetworkKind = Network['kind'];
export const NETWORK_KINDS: readonly NetworkKind[] = ['mlp', 'egnn', 'dit'];

/** The shape of the data a network acts on: D = nParticles · spatialDim. */
export interface NetworkGeometry {
  dim: number;
  nParticles: number;
  spatialDim: number;
}

/**
 * Valid configuration keys per kind. Defaults: mlp MLP_DEFAULTS; egnn
 * EGNN_DEFAULTS (docs/algorithm.md §3.2) and EGNN_EXTENSION_DEFAULTS
 * (radialBasis 0 = off, rbfMax 3: Gaussian radial basis of the pair distance
 * in the edge input, src/nets/egnn.ts); dit the `preset` ('full' by default, or 'small',
 * DIT_PRESETS), individual keys overriding it. conditionOnTemperature
 * defaults to false everywhere.
 */
export const NETWORK_CONFIG_KEYS: Readonly<Record<NetworkKind, readonly string[]>> = {
  mlp: ['hidden', 'layers', 'timeEmbedding', 'conditionOnTemperature'],
  egnn: ['hidden', 'layers', 'attention', 'tanh', 'coordsRange', 'conditionOnTemperature', 'radialBasis', 'rbfMax'],
  dit: ['preset', 'hidden', 'blocks', 'heads', 'condDim', 'mlpRatio', 'conditionOnTemperature'],
};

function checkGeometry(g: NetworkGeometry): void {
  const where = 'network geometry';
  intOption(where, 'dim', g.dim, 1);
  intOption(where, 'nParticles', g.nParticles, 1);
  intOption(where, 'spatialDim', g.spatialDim, 1);
  if (g.nParticles * g.spatialDim !== g.dim) {
    throw new UserError(`${where}: dim ${g.dim} ≠ nParticles ${g.nParticles} × spatialDim ${g.spatialDim}`);
  }
}

/**
 * Build a network of `kind` ('mlp' | 'egnn' | 'dit') for data of `geometry`,
 * with parameters initialised from `rng`. `config` holds only architecture
 * keys (NETWORK_CONFIG_KEYS); the result's `config` is the resolved
 * configuration, which rebuilds the same architecture when passed back.
 * Throws a UserError for an unknown kind or key or a bad value.
 */
export function createNetwork(kind: string, config: Record<string, unknown>, geometry: NetworkGeometry, rng: Rng): Network {
  const k = enumOption('network', 'kind', kind, NETWORK_KINDS);
  const where = `network '${k}'`;
  const c = checkConfigKeys(where, config ?? {}, NETWORK_CONFIG_KEYS[k]);
  checkGeometry(geometry);
  const get = (key: string, fallback: unknown): unknown => (c[key] === undefined ? fallback : c[key]);
  const conditionOnTemperature = boolOption(where, 'conditionOnTemperature', get('conditionOnTemperature', false));
  switch (k) {
    case 'mlp':
      return createMlp(
        {
          dim: geometry.dim,
          hidden: intOption(where, 'hidden', get('hidden', MLP_DEFAULTS.hidden), 1),
          layers: intOption(where, 'layers', get('layers', MLP_DEFAULTS.layers), 1),
          timeEmbedding: intOption(where, 'timeEmbedding', get('timeEmbedding', MLP_DEFAULTS.timeEmbedding), 0, true),
          conditionOnTemperature,
        },
        rng,
      );
    case 'egnn':
      return createEgnn(
        {
          nParticles: geometry.nParticles,
          spatialDim: geometry.spatialDim,
          hidden: intOption(where, 'hidden', get('hidden', EGNN_DEFAULTS.hidden), 1),
          layers: intOption(where, 'layers', get('layers', EGNN_DEFAULTS.layers), 1),
          attention: boolOption(where, 'attention', get('attention', EGNN_DEFAULTS.attention)),
          tanh: boolOption(where, 'tanh', get('tanh', EGNN_DEFAULTS.tanh)),
          coordsRange: positiveOption(where, 'coordsRange', get('coordsRange', EGNN_DEFAULTS.coordsRange)),
          conditionOnTemperature,
          radialBasis: intOption(where, 'radialBasis', get('radialBasis', EGNN_EXTENSION_DEFAULTS.radialBasis), 0),
          rbfMax: positiveOption(where, 'rbfMax', get('rbfMax', EGNN_EXTENSION_DEFAULTS.rbfMax)),
        },
        rng,
      );
    case 'dit': {
      const preset = DIT_PRESETS[enumOption(where, 'preset', get('preset', 'full'), ['full', 'small'] as const)];
      return createDit(
        {
          nParticles: geometry.nParticles,
          spatialDim: geometry.spatialDim,
          hidden: intOption(where, 'hidden', get('hidden', preset.hidden), 2),
          blocks: intOption(where, 'blocks', get('blocks', preset.blocks), 0),
          heads: intOption(where, 'heads', get('heads', preset.heads), 1),
          condDim: intOption(where, 'condDim', get('condDim', preset.condDim), 1),
          mlpRatio: intOption(where, 'mlpRatio', get('mlpRatio', preset.mlpRatio), 1),
          conditionOnTemperature,
        },
        rng,
      );
    }
  }
}
