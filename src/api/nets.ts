/**
 * `pita/nets`: the MLP, EGNN and DiT networks and `createNetwork`. Networks
 * run on the tensor engine: call `initTensorBackend()` once before use.
 */
export {
  createNetwork,
  createMlp,
  createEgnn,
  createDit,
  NETWORK_KINDS,
  NETWORK_CONFIG_KEYS,
  MLP_DEFAULTS,
  EGNN_DEFAULTS,
  DIT_PRESETS,
  type Network,
  type NetworkKind,
  type NetworkGeometry,
  type VectorField,
  type MlpConfig,
  type EgnnConfig,
  type DitConfig,
  type DitArchitecture,
} from '../nets/index.js';
export { initTensorBackend } from '../tensor/index.js';
