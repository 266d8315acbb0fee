import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runSampler } from '../../src/samplers/run.js';
import { splitRange } from '../../src/parallel/pool.js';
import { runSamplerInWorkers } from '../../src/samplers/parallel.js';
import { createTarget } from '../../src/targets/index.js';
import { Rng } from '../../src/core/rng.js';
import { writeNpy } from '../../src/io/npy.js';
import { runCli } from '../cli/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'pita-parallel-'));

test('chains split into contiguous blocks whose sizes differ by at most one', () => {
  assert.deepEqual(splitRange(7, 3), [[0, 2], [2, 4], [4, 7]]);
  assert.deepEqual(splitRange(2, 2), [[0, 1], [1, 2]]);
});

test('pita sample writes byte-identical files with --workers 1 and --workers 2 (PT on LJ-13, MALA on DW-4)', async () => {
  const cases = [
    ['--target', 'lj13', '--sampler', 'pt', '--n', '24', '--chains', '6', '--replicas', '4', '--warmup', '30', '--thin', '3'],
    ['--target', 'dw4', '--sampler', 'mala', '--n', '40', '--chains', '5', '--thin', '2', '--max-warmup', '40'],
  ];
  for (const [i, args] of cases.entries()) {
    const files: Buffer[][] = [];
    for (const workers of ['1', '2']) {
      const out = join(dir, `s${i}-${workers}.npy`);
      const energies = join(dir, `e${i}-${workers}.npy`);
      const r = await runCli('sample', ...args, '--seed', '4', '--workers', workers, '--quiet', '--out', out, '--energies', energies);
      assert.equal(r.code, 0, r.err);
      files.push([readFileSync(out), readFileSync(energies)]);
    }
    assert.ok(files[0][0].equals(files[1][0]), `${args[3]}: samples differ between 1 and 2 workers`);
    assert.ok(files[0][1].equals(files[1][1]), `${args[3]}: energies differ between 1 and 2 workers`);
  }
});

test('pita energy writes byte-identical energies and forces with --workers 1 and --workers 3 (ALDP, 6001 rows)', async () => {
  // 6001 rows: 3 workers of ≥ 2000 rows each, with slices of unequal size.
  const aldp = createTarget('aldp');
  const rng = new Rng(3);
  const base = aldp.initialConfigurations(rng, 1);
  const n = 6001;
  const x = new Float64Array(n * aldp.dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < aldp.dim; d++) x[i * aldp.dim + d] = base[d] + 0.002 * rng.normal();
  const input = join(dir, 'aldp-rows.npy');
  writeNpy(input, x, [n, aldp.dim], 'float64');
  const files: Buffer[][] = [];
  for (const workers of ['1', '3']) {
    const out = join(dir, `energy-${workers}.npy`);
    const forces = join(dir, `forces-${workers}.npy`);
    const r = await runCli('energy', '--target', 'aldp', '--in', input, '--out', out, '--forces', forces, '--workers', workers);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`${n} configurations, ${n} energy evaluations`));
    files.push([readFileSync(out), readFileSync(forces)]);
  }
  assert.ok(files[0][0].equals(files[1][0]), 'energies differ between 1 and 3 workers');
  assert.ok(files[0][1].equals(files[1][1]), 'forces differ between 1 and 3 workers');
});

test('runSamplerInWorkers equals runSampler for HMC and Langevin with 3 workers (counts, PT and Langevin summaries too)', async () => {
  const target = createTarget('dw4');
  for (const opts of [
    { sampler: 'hmc', n: 21, chains: 7, warmup: 12, thin: 2, seed: 9, leapfrogSteps: 3 },
    { sampler: 'langevin', n: 14, chains: 7, warmup: 10, thin: 3, seed: 9 },
    { sampler: 'pt', n: 14, chains: 7, warmup: 10, thin: 3, seed: 9, replicas: 3, localSteps: 2 },
  ]) {
    const one = runSampler(target, opts);
    const three = await runSamplerInWorkers({ target: 'dw4' }, opts, 3);
    assert.deepEqual(three.samples, one.samples, opts.sampler);
    assert.deepEqual(three.energies, one.energies);
    assert.deepEqual(three.stepSize, one.stepSize);
    assert.deepEqual(three.evaluations, one.evaluations);
    assert.equal(three.kineticTemperature, one.kineticTemperature);
    assert.deepEqual(three.pt, one.pt);
    assert.deepEqual(three.acceptance, one.acceptance);
  }
});
