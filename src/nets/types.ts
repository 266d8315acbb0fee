/**
 * The contract between networks (src/nets) and the diffusion models
 * (src/diffusion). A network is a function of (parameters, inputs); the
 * parameters live in a ParamStore, the inputs are tensors:
 *
 *   F(cNoise [B, 1], xIn [B, D], beta [B, 1] | null) → [B, D]
 *
 * with xIn = c_in·x flattened atom-major (D = nParticles·spatialDim),
 * cNoise = ¼ ln σ per row, and beta the relative inverse temperature per row
 * (null when the network is not temperature-conditioned). Score and energy
 * models (EDM preconditioning, docs/algorithm.md §3.1) are built on top of any VectorField.
 */
import type { ParamStore, Tensor } from '../tensor/index.js';

export type VectorField = (cNoise: Tensor, xIn: Tensor, beta: Tensor | null) => Tensor;

export interface Network {
  /** Architecture name and the resolved configuration (recorded in checkpoints). */
  readonly kind: 'mlp' | 'egnn' | 'dit';
  readonly config: Readonly<Record<string, unknown>>;
  /** Parameters, created with deterministic seeded initialisation. */
  readonly params: ParamStore;
  /** Input dimension D = nParticles·spatialDim. */
  readonly dim: number;
  readonly conditionOnTemperature: boolean;
  /** The network applied with its current parameters (read from `params` at call time). */
  readonly apply: VectorField;
}
