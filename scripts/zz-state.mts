// Scratch: on a device, 10 steps straight vs 5 + getState + 5 (a checkpoint commit mid-rung): identical?
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { loadTrainerCheckpoint } from '../src/pita/checkpoint.js';
import { parseRunConfig } from '../src/pita/config.js';
import { networkFactory } from '../src/pita/run.js';
import { createTarget } from '../src/targets/index.js';
import { initTensorBackend } from '../src/tensor/index.js';
const device = process.env.DEVICE ?? 'cpu', run = '/tmp/dw4cpu/run';
const cfg = parseRunConfig(parseYaml(readFileSync(`${run}/config.yaml`, 'utf8')), 'config');
await initTensorBackend(device as 'cpu' | 'webgpu');
const target = createTarget(cfg.target);
const load = () => loadTrainerCheckpoint(`${run}/checkpoints/rung0-step0.safetensors`, networkFactory(cfg, target), { workers: 1 });
const a = load(), b = load();
const src = (t: typeof a) => [{ buffer: t.buffers[t.buffers.length - 1], beta: null }];
const la: number[] = [], lb: number[] = [];
await a.trainer.train(src(a), 10, (e) => la.push(e.loss));
await b.trainer.train(src(b), 5, (e) => lb.push(e.loss));
await b.trainer.getState();
await b.trainer.train(src(b), 5, (e) => lb.push(e.loss));
const [sa, sb] = [await a.trainer.getState(), await b.trainer.getState()];
let diffs = 0;
for (const w of ['score', 'energy'] as const) for (const [k, v] of Object.entries(sa[w].params)) { const u = sb[w].params[k]; for (let i = 0; i < v.length; i++) if (v[i] !== u[i]) diffs++; }
console.log(JSON.stringify({ device, differingParams: diffs, lossesEqual: JSON.stringify(la) === JSON.stringify(lb) }));
