/**
 * `pita/pita`: Progressive Inference-Time Annealing. `runPita` runs a whole
 * ladder into a run directory; the trainer, the FK-SMC annealer, the neural
 * field and the finishing step are exported for researchers who compose
 * their own loop (see docs/algorithm.md).
 */
export { runPita, annealRung, collapseWarning, relativeBetas, RunStopped, type RunOptions, type RunOutcome, type RungSummary, type MetricsFile } from '../pita/run.js';
export { InterruptedError } from '../core/errors.js';
export type { RunEvent, RunEventListener } from '../pita/events.js';
export { parseRunConfig, loadRunConfig, runConfigSchema, type RunConfig } from '../pita/config.js';
export { Trainer, TRAINER_DEFAULTS, resolveTrainerConfig, type TrainerConfig, type TrainerOptions, type NetworkFactory, type TrainingSource, type StepLog } from '../pita/trainer.js';
export { anneal, gammaPath, type AnnealConfig, type AnnealField, type AnnealResult, type AnnealStepLog, type AnnealSchedule } from '../pita/anneal.js';
export { neuralField, type NeuralFieldOptions } from '../pita/neural-field.js';
export { finishAnneal, relaxationKernel, type FinishConfig, type FinishResult, type RelaxationKernel, type RelaxationKernelFactory, type RelaxationKernelName } from '../pita/finish.js';
export { ReplayBuffer } from '../pita/buffer.js';
export { initTensorBackend } from '../tensor/index.js';
