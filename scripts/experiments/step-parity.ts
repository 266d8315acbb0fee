/**
 * Training steps of a run's networks on two devices, compared: the gradient each step fed Adam, the
 * EMA's and the parameters' steps, and the losses. One process runs one device, so this is two
 * commands and a comparison:
 *
 *   node --import tsx scripts/experiments/step-parity.ts --run runs/dw4 --checkpoint rung3-step0 \
 *     --device cpu --out /tmp/cpu.json [--steps 3] [--workers 1]
 *   node --import tsx scripts/experiments/step-parity.ts … --device webgpu --out /tmp/webgpu.json
 *   node --import tsx scripts/experiments/step-parity.ts --compare /tmp/webgpu.json /tmp/cpu.json
 *
 * The steps train on the checkpoint's last replay buffer (the rung it was saved for). The gradient
 * is recovered from Adam's first moment, g = (m₁ − β₁m₀)/(1 − β₁): the clipped gradient, exactly
 * what the optimiser used. `--compare a b` prints ‖a − b‖/‖b‖ over all parameters of each kind, the
 * three parameters with the largest max|a − b|/max|b|, and the relative differences of the losses.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { loadTrainerCheckpoint } from '../../src/pita/checkpoint.js';
import { parseRunConfig } from '../../src/pita/config.js';
import { networkFactory } from '../../src/pita/run.js';
import type { StepLog } from '../../src/pita/trainer.js';
import { createTarget } from '../../src/targets/index.js';
import { initTensorBackend } from '../../src/tensor/index.js';

/** Per step: each parameter's gradient, EMA step and parameter step, by `kind:net/name`. */
interface StepValues {
  device: string;
  logs: StepLog[];
  steps: Record<string, number[]>[];
}
const KINDS = ['grad', 'ema-step', 'param-step'] as const;
/** The trainer's Adam β₁ (src/pita/trainer.ts builds T.Adam with its default). */
const BETA1 = 0.9;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    run: { type: 'string' },
    checkpoint: { type: 'string', default: 'rung0-step0' },
    device: { type: 'string', default: 'cpu' },
    out: { type: 'string' },
    steps: { type: 'string', default: '3' },
    workers: { type: 'string', default: '1' },
    compare: { type: 'boolean', default: false },
  },
});

if (values.compare) {
  const [a, b] = positionals.map((f) => JSON.parse(readFileSync(f, 'utf8')) as StepValues);
  console.log(`${a.device} against ${b.device}`);
  b.steps.forEach((ref, i) => {
    for (const kind of KINDS) {
      let d = 0;
      let s = 0;
      const worst: [string, number][] = [];
      for (const [key, v] of Object.entries(ref)) {
        if (!key.startsWith(`${kind}:`)) continue;
        const w = a.steps[i][key];
        let md = 0;
        let mv = 0;
        v.forEach((x, j) => {
          d += (w[j] - x) ** 2;
          s += x ** 2;
          md = Math.max(md, Math.abs(w[j] - x));
          mv = Math.max(mv, Math.abs(x));
        });
        worst.push([key.slice(kind.length + 1), md / mv]);
      }
      worst.sort((p, q) => q[1] - p[1]);
      const top = worst.slice(0, 3).map(([k, e]) => `${k} ${e.toExponential(1)}`).join(', ');
      console.log(`step ${i + 1} ${kind}: ‖Δ‖/‖·‖ ${Math.sqrt(d / s).toExponential(2)}; largest: ${top}`);
    }
    const la = a.logs[i] as unknown as Record<string, number>;
    const lb = b.logs[i] as unknown as Record<string, number>;
    const keys = Object.keys(lb).filter((k) => k.startsWith('loss') || k === 'gradNorm');
    console.log(`step ${i + 1} losses: ${keys.map((k) => `${k} ${(Math.abs(la[k] - lb[k]) / Math.abs(lb[k])).toExponential(1)}`).join(', ')}`);
  });
} else {
  if (!values.run || !values.out) throw new Error('need --run and --out (or --compare a.json b.json)');
  if (values.device !== 'cpu' && values.device !== 'webgpu') throw new Error('--device is cpu or webgpu');
  const cfg = parseRunConfig(parseYaml(readFileSync(`${values.run}/config.yaml`, 'utf8')), `${values.run}/config.yaml`);
  const engine = await initTensorBackend(values.device);
  const target = createTarget(cfg.target);
  const path = `${values.run}/checkpoints/${values.checkpoint}.safetensors`;
  const { trainer, buffers } = loadTrainerCheckpoint(path, networkFactory(cfg, target), { workers: Number(values.workers) });
  const sources = [{ buffer: buffers[buffers.length - 1], beta: null }];
  const out: StepValues = { device: engine.device, logs: [], steps: [] };
  for (let i = 0; i < Number(values.steps); i++) {
    const s0 = await trainer.getState();
    out.logs.push(await trainer.trainStep(sources));
    const s1 = await trainer.getState();
    const step: Record<string, number[]> = {};
    for (const net of ['score', 'energy'] as const) {
      for (const [name, m1] of Object.entries(s1[net].adam.m)) {
        const m0 = s0[net].adam.m[name];
        step[`grad:${net}/${name}`] = Array.from(m1, (v, j) => (v - BETA1 * m0[j]) / (1 - BETA1));
        const e0 = s0[net].ema.shadows[name];
        step[`ema-step:${net}/${name}`] = Array.from(s1[net].ema.shadows[name], (v, j) => v - e0[j]);
        const p0 = s0[net].params[name];
        step[`param-step:${net}/${name}`] = Array.from(s1[net].params[name], (v, j) => v - p0[j]);
      }
    }
    out.steps.push(step);
  }
  writeFileSync(values.out, JSON.stringify(out));
  trainer.dispose();
}
