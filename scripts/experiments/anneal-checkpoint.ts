/**
 * Anneal one rung of a `pita run` from one of its checkpoints, with the run's
 * config changed by `--set` (annealing settings, particle count…), and judge
 * the final samples against a reference at the rung's lower temperature. The
 * networks are the checkpoint's; nothing is trained. One JSON line on stdout.
 *
 *   node --import tsx scripts/experiments/anneal-checkpoint.ts --config configs/lj13.quick.yaml \
 *     --checkpoint runs/lj13/checkpoints/rung1-step0.safetensors --rung 0 \
 *     --ref ../shared/data/lj13/train_T3.0.npy [--set annealing.weighting=discrete ...] \
 *     [--device cpu|webgpu] [--samples final.npy] [--log steps.jsonl]
 *
 * `--rung k` anneals T_k → T_{k+1}; the checkpoint `rung{k+1}-step0` holds the
 * networks that the run annealed that rung with. `--device` picks the tensor
 * engine (default cpu), so one checkpoint can be annealed on both engines with
 * the same seed; `--samples` writes the final samples (float64, [M, D]) and
 * `--log` one line per annealing step (ESS, log-weight variance, resampled).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { readNpyFloat64, writeNpy } from '../../src/io/npy.js';
import { evaluateSamples } from '../../src/metrics/evaluate.js';
import { loadTrainerCheckpoint } from '../../src/pita/checkpoint.js';
import { parseRunConfig } from '../../src/pita/config.js';
import { annealRung, networkFactory } from '../../src/pita/run.js';
import { createTarget } from '../../src/targets/index.js';
import { initTensorBackend } from '../../src/tensor/index.js';
import { setKey } from './common.js';

const { values } = parseArgs({ options: { config: { type: 'string' }, checkpoint: { type: 'string' }, rung: { type: 'string', default: '0' }, ref: { type: 'string' }, set: { type: 'string', multiple: true, default: [] }, device: { type: 'string', default: 'cpu' }, samples: { type: 'string' }, log: { type: 'string' } } });
if (!values.config || !values.checkpoint || !values.ref) throw new Error('need --config, --checkpoint and --ref');
const raw = parseYaml(readFileSync(values.config, 'utf8')) as Record<string, unknown>;
for (const s of values.set) setKey(raw, s);
const cfg = parseRunConfig(raw, values.config);
if (values.device !== 'cpu' && values.device !== 'webgpu') throw new Error('--device is cpu or webgpu');
const engine = await initTensorBackend(values.device);
const target = createTarget(cfg.target);
const k = Number(values.rung);
const { trainer } = loadTrainerCheckpoint(values.checkpoint, networkFactory(cfg, target), { workers: cfg.workers ?? 1 });
const t0 = performance.now();
const { res, fin, minEss } = await annealRung(trainer, target, cfg, k, undefined, () => undefined);
const seconds = (performance.now() - t0) / 1000;
const T = cfg.ladder.temperatures[k + 1];
const ref = readNpyFloat64(values.ref, { cols: target.dim, what: `target ${target.name}` });
const M = cfg.annealing.particles;
if (values.log) writeFileSync(values.log, res.log.map((step) => `${JSON.stringify(step)}\n`).join(''));
if (values.samples) writeNpy(values.samples, fin.x, [M, target.dim]);
const m = evaluateSamples(target, fin.x, M, ref.data, ref.shape[0], { temperature: T, maxOtPoints: 2000, seed: 0 });
console.log(
  JSON.stringify({
    set: values.set,
    device: engine.device,
    seconds: Math.round(seconds),
    minEss,
    resamplings: res.resamplings,
    reweightEss: fin.reweightEss,
    uniqueAfterReweight: fin.uniqueAfterReweight,
    relaxationAcceptance: fin.relaxationAcceptance,
    energyW2: m.energyW2,
    distanceW2: m.distanceW2,
    meanReducedEnergy: m.meanReducedEnergy,
    meanReducedEnergyReference: m.meanReducedEnergyReference,
  }),
);
trainer.dispose();
