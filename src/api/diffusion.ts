/** `pita/diffusion`: the EDM noise schedule, score and energy models, their losses and the reverse-SDE sampler. */
export { EdmSchedule, EDM_DEFAULTS, samplingGrid, sampleTrainingSigmas, TRAINING_NOISE_DEFAULTS, type EdmScheduleOptions, type TrainingNoise } from '../diffusion/schedule.js';
export {
  preconditioning,
  scoreDenoiser,
  scoreModelScore,
  energy,
  energyGradX,
  energyModelScore,
  energyDenoiser,
  energyGradients,
  energyTimeGradients,
  type Preconditioning,
  type EnergyGradients,
  type EnergyTimeGradients,
} from '../diffusion/models.js';
export { evaluateLosses, lossesAndGrads, prepareLossBatch, DEFAULT_LOSS_WEIGHTS, type LossWeights, type LossOptions, type LossBatch, type LossBatchInput, type LossValues } from '../diffusion/losses.js';
export { sampleReverseSde, scoreModelScoreFunction, energyModelScoreFunction, type ScoreFunction, type ReverseSdeOptions } from '../diffusion/sampler.js';
export { randomRotation, rotateBatch, removeCentroids, type ParticleLayout } from '../diffusion/augment.js';
