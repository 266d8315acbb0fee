/** `pita bench`: the step benchmarks run (small batches, the CPU device) and bad options are one-line errors. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from './helpers.js';

test('pita bench --device cpu times every workload and writes JSON with a finite, non-zero check value', async () => {
  const json = join(mkdtempSync(join(tmpdir(), 'pita-bench-')), 'bench.json');
  const r = await runCli('bench', '--device', 'cpu', '--batch', '2', '--steps', '1', '--warmup', '1', '--only', 'egnn512,anneal5000,ditfull2048,mlp512', '--json', json);
  assert.equal(r.code, 0, r.err);
  const out = JSON.parse(readFileSync(json, 'utf8')) as { device: string; results: { name: string; medianMs: number; check: number; dispatches: number }[] };
  assert.match(out.device, /^cpu \(wasm/);
  assert.deepEqual(out.results.map((x) => x.name), ['egnn512', 'anneal5000', 'ditfull2048', 'mlp512']);
  for (const x of out.results) {
    // Non-zero: a check of 0 would compare nothing across devices (the DiT's adaLN-zero start gave 0 before its zero parameters were filled).
    assert.ok(x.medianMs > 0 && Number.isFinite(x.check) && x.check !== 0, JSON.stringify(x));
    assert.equal(x.dispatches, 0, 'the CPU runs steps through tfjs, nothing is replayed');
  }
});

test('pita bench rejects an unknown device or workload in one line', async () => {
  const a = await runCli('bench', '--device', 'tpu');
  assert.equal(a.code, 2);
  assert.match(a.err, /--device must be one of auto, cpu, webgpu, got 'tpu'/);
  const b = await runCli('bench', '--device', 'cpu', '--only', 'resnet');
  assert.equal(b.code, 2);
  assert.match(b.err, /unknown workload resnet/);
  assert.equal(b.err.trim().split('\n').length, 1);
  // The CPU against itself compares nothing.
  const c = await runCli('bench', '--device', 'cpu', '--against-cpu', '--only', 'mlp512');
  assert.equal(c.code, 2);
  assert.match(c.err, /--against-cpu compares another device with the CPU, and this bench runs on cpu/);
  assert.equal(c.err.trim().split('\n').length, 1);
  // The products' bench times GPU kernels.
  const d = await runCli('bench', '--device', 'cpu', '--only', 'ditproducts');
  assert.equal(d.code, 2);
  assert.match(d.err, /ditproducts times GPU kernels, and this bench runs on cpu/);
  assert.equal(d.err.trim().split('\n').length, 1);
});

test('pita bench --workers 2 times the training step on 1 and 2 worker threads', async () => {
  const json = join(mkdtempSync(join(tmpdir(), 'pita-bench-')), 'bench.json');
  const r = await runCli('bench', '--device', 'cpu', '--batch', '4', '--steps', '1', '--warmup', '0', '--only', 'train256', '--workers', '2', '--json', json);
  assert.equal(r.code, 0, r.err);
  const out = JSON.parse(readFileSync(json, 'utf8')) as { results: unknown[]; trainer: { workers: number; medianMs: number; trainMs?: number }[] };
  assert.deepEqual(out.results, []);
  assert.deepEqual(out.trainer.map((t) => t.workers), [1, 2]);
  for (const t of out.trainer) assert.ok(t.medianMs > 0 && Number.isFinite(t.medianMs), JSON.stringify(t));
  // The same steps through Trainer.train (overlapped on WebGPU), on 1 worker only.
  assert.deepEqual(out.trainer.map((t) => t.trainMs !== undefined && t.trainMs > 0), [true, false]);
  assert.match(r.out, /^train256\t.* ms\/step on 1 worker, .* through Trainer.train, .* on 2 workers \(.*× speed-up\)/m);
});

test('pita bench annealstep5000 times whole annealing steps of the given particles and chunk size', async () => {
  const json = join(mkdtempSync(join(tmpdir(), 'pita-bench-')), 'bench.json');
  const r = await runCli('bench', '--device', 'cpu', '--batch', '24', '--chunk', '10', '--steps', '2', '--warmup', '1', '--only', 'annealstep5000', '--json', json);
  assert.equal(r.code, 0, r.err);
  const out = JSON.parse(readFileSync(json, 'utf8')) as { results: unknown[]; annealStep: { particles: number; chunkSize: number; steps: number; medianMs: number; check: number; noiseThreads: number } };
  assert.deepEqual(out.results, []);
  const a = out.annealStep;
  // On the CPU the noise stays on the main thread (the engine's workers would compete for the cores).
  assert.deepEqual([a.particles, a.chunkSize, a.steps, a.noiseThreads], [24, 10, 2, 1]);
  assert.ok(a.medianMs > 0 && Number.isFinite(a.check), JSON.stringify(a));
  assert.match(r.out, /^annealstep5000\t.* ms\/step .*24 particles in chunks of 10, discrete weights, noise on the main thread$/m);
});
