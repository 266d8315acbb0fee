/**
 * Train the score and energy networks of one rung on rows of a data file and
 * save trainer checkpoints at the given step counts, for the score diagnosis
 * of issue 14 (score-check.ts reads the checkpoints). The last `--holdout`
 * rows are left out of training (score-check.ts evaluates on them).
 *
 *   node --import tsx scripts/experiments/train-rung.ts --config configs/lj13.quick.yaml \
 *     --temperature 1.2 --data ../shared/data/lj13/train_T1.2.npy --at 500,1000 \
 *     --save /tmp/lj13/base [--set model.options.hidden=64 ...] [--holdout 1000]
 *
 * writes /tmp/lj13/base-500.safetensors, /tmp/lj13/base-1000.safetensors and
 * /tmp/lj13/base.train.jsonl (one line per checkpoint: mean losses over the
 * steps since the previous checkpoint, wall time). The config (with the
 * --set overrides) goes to /tmp/lj13/base.config.json, so that score-check.ts
 * rebuilds the same networks.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { readNpyFloat64 } from '../../src/io/npy.js';
import { fillBuffer, networkFactory, trainerConfig } from '../../src/pita/run.js';
import { saveTrainerCheckpoint } from '../../src/pita/checkpoint.js';
import { Trainer, type StepLog } from '../../src/pita/trainer.js';
import { createTarget } from '../../src/targets/index.js';
import { initTensorBackend } from '../../src/tensor/index.js';
import { rungConfig } from './common.js';

function parseArgs(argv: string[]) {
  const a = { config: '', temperature: 0, data: '', at: [] as number[], set: [] as string[], holdout: 1000, save: '' };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i];
    const val = () => argv[++i] ?? '';
    if (key === '--config') a.config = val();
    else if (key === '--temperature') a.temperature = Number(val());
    else if (key === '--data') a.data = val();
    else if (key === '--at') a.at = val().split(',').map(Number);
    else if (key === '--set') a.set.push(val());
    else if (key === '--holdout') a.holdout = Number(val());
    else if (key === '--save') a.save = val();
    else throw new Error(`unknown option ${key}`);
  }
  if (!a.config || !a.data || !a.save || !(a.temperature > 0) || a.at.length === 0) throw new Error('need --config --temperature --data --at --save');
  return a;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const steps = args.at[args.at.length - 1];
  const cfg = rungConfig(args.config, ['device=cpu', ...args.set], [args.temperature, args.temperature / 1.2], args.data, steps);
  await initTensorBackend(cfg.device);
  const target = createTarget(cfg.target);
  const D = target.dim;
  const data = readNpyFloat64(args.data, { cols: D, what: `target ${target.name}` });
  const nTrain = data.shape[0] - args.holdout;
  const buffer = fillBuffer(target, data.data.slice(0, nTrain * D), nTrain, args.temperature, cfg.data.lengthScale, cfg.annealing.energyMask);
  writeFileSync(`${args.save}.config.json`, JSON.stringify({ config: args.config, set: args.set, temperature: args.temperature, data: args.data, holdout: args.holdout, model: cfg.model, training: cfg.training }, null, 1));
  const trainer = new Trainer(networkFactory(cfg, target), trainerConfig(cfg, target));
  let done = 0;
  let seconds = 0;
  for (const at of args.at) {
    const logs: StepLog[] = [];
    const t0 = performance.now();
    await trainer.train([{ buffer, beta: null }], at - done, (e) => logs.push(e));
    seconds += (performance.now() - t0) / 1000;
    done = at;
    const mean = (k: keyof StepLog) => logs.reduce((s, e) => s + (e[k] as number), 0) / logs.length;
    const line = { steps: at, seconds, score: mean('lossScore'), energyScore: mean('lossEnergyScore'), energyMatching: mean('lossEnergyMatching'), gradNorm: mean('gradNorm') };
    await saveTrainerCheckpoint(`${args.save}-${at}.safetensors`, trainer);
    appendFileSync(`${args.save}.train.jsonl`, JSON.stringify(line) + '\n');
    console.log(JSON.stringify(line));
  }
  trainer.dispose();
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
