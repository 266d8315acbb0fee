import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../../src/core/errors.js';
import { writeNpy } from '../../src/io/npy.js';
import { parseRunConfig } from '../../src/pita/config.js';
import { runPita, RunStopped } from '../../src/pita/run.js';

const dir = mkdtempSync(join(tmpdir(), 'pita-inputs-'));

/** A tiny DW-4 config reading `data.file` (and `evaluation.reference` when given). */
function config(dataFile: string, reference?: string) {
  return parseRunConfig(
    {
      target: 'dw4',
      ladder: { temperatures: [2, 1.5] },
      data: { source: 'file', file: dataFile, samples: 64 },
      model: { network: 'mlp', options: { hidden: 8, layers: 1 } },
      training: { stepsPerTemperature: 2, stepsAfterLast: 0, batchSize: 16, checkpointEvery: 2 },
      annealing: { particles: 32, steps: 5, chunkSize: 32 },
      evaluation: reference ? { reference, maxOtPoints: 32 } : {},
      baseline: 'none',
    },
    'inputs',
  );
}

test('pita run checks every input file before any work and leaves no run directory', async () => {
  const good = new Float64Array(64 * 8).map((_, i) => Math.sin(i));
  writeNpy(join(dir, 'good.npy'), good, [64, 8]);
  const nan = good.slice();
  nan[3 * 8 + 1] = NaN;
  nan[9 * 8] = Infinity;
  writeNpy(join(dir, 'nan.npy'), nan, [64, 8]);
  writeNpy(join(dir, 'wide.npy'), new Float64Array(4 * 9), [4, 9]);
  writeNpy(join(dir, 'empty.npy'), new Float64Array(0), [0, 8]);
  const cases: [ReturnType<typeof config>, RegExp][] = [
    [config(join(dir, 'nan.npy')), /^data\.file .*nan\.npy: 2 of 64 rows contain NaN or Inf \(rows 3, 9\)$/],
    [config(join(dir, 'wide.npy')), /^data\.file: .*wide\.npy has shape \[4, 9\]; target dw4 needs \[n, 8\]$/],
    [config(join(dir, 'empty.npy')), /^data\.file .*empty\.npy holds no configurations/],
    [config(join(dir, 'good.npy'), join(dir, 'nan.npy')), /^evaluation\.reference .*nan\.npy: 2 of 64 rows contain NaN or Inf/],
    [config(join(dir, 'good.npy'), join(dir, 'missing.npy')), /^evaluation\.reference .*missing\.npy not found$/],
  ];
  for (const [i, [cfg, pattern]] of cases.entries()) {
    const out = join(dir, `run${i}`);
    await assert.rejects(runPita(cfg, { outDir: out, quiet: true }), (e: Error) => e instanceof UserError && pattern.test(e.message));
    assert.ok(!existsSync(out), `case ${i}: no run directory left behind`);
  }
});

test("PITA's own initial data: unconverged generator output is reported through onWarning and log.jsonl", async () => {
  const cfg = parseRunConfig(
    {
      target: 'dw4',
      ladder: { temperatures: [2, 1.5] },
      // 16 chains × 8 draws after a 10-round warm-up: far too short to pass R̂ ≤ 1.01 and 4 round trips.
      data: { samples: 128, generator: { sampler: 'pt', warmup: 10, thin: 1, chains: 16, replicas: 4 } },
      model: { network: 'mlp', options: { hidden: 8, layers: 1 } },
      training: { stepsPerTemperature: 2, stepsAfterLast: 0, batchSize: 16, checkpointEvery: 1 },
      annealing: { particles: 32, steps: 5, chunkSize: 32 },
      baseline: 'none',
    },
    'short-data',
  );
  const out = join(dir, 'short-data');
  const warnings: string[] = [];
  await assert.rejects(runPita(cfg, { outDir: out, quiet: true, stopAfterSteps: 1, onEvent: (e) => void (e.type === 'warning' && warnings.push(e.message)) }), RunStopped);
  assert.ok(warnings.length > 0, 'at least one warning');
  assert.match(warnings.join('\n'), /^initial data: (not converged|parallel tempering made|energy bulk ESS)/m);
  const log = readFileSync(join(out, 'log.jsonl'), 'utf8');
  assert.match(log, /"type":"warning","phase":"initial-data"/);
  assert.match(log, /"convergence":\{"chains":16,"drawsPerChain":8/);
});
