/**
 * The run-directory module: what the writer writes the reader reads back,
 * and `pita report` reads a run without loading the orchestrator or the
 * tensor engine (it used to import pita/run.ts, and through it tfjs, for one
 * constant).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeNpy } from '../../src/io/npy.js';
import { parseRunConfig } from '../../src/pita/config.js';
import { readRunDirectory } from '../../src/rundir/reader.js';
import { annealCheckpointName, checkpointName, isRungStartCheckpoint, PROGRESS_FILE, type ProgressFile, type RungSummary } from '../../src/rundir/schema.js';
import { RunDirectoryWriter } from '../../src/rundir/writer.js';

const root = resolve(import.meta.dirname, '../..');

const rung: RungSummary = {
  rung: 1, temperature: 1.5, beta: 2, gamma: 2, particles: 64, kept: 60, resamplings: 3, minEss: 0.4,
  reweightEss: 0.3, uniqueAfterReweight: 40, relaxationAcceptance: 0.6, meanReducedEnergy: -3.25, seconds: 1.5,
};

/** A small run directory written by the writer: config, three log records, progress mid-rung and T_0 samples. */
function writeRun(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'pita-rundir-')), 'run');
  const w = new RunDirectoryWriter(dir);
  assert.equal(w.holdsRun(), false);
  w.create(parseRunConfig({ target: 'dw4', ladder: { temperatures: [3, 1.5] }, training: { stepsPerTemperature: 30 } }, 'test'));
  w.appendLog({ type: 'initial-data', sampler: 'pt', acceptance: 0.5, temperatures: [3, 9], swapAcceptance: [0.7], roundTrips: 4 });
  const step = { step: 1, source: 0, loss: 2.5, lossScore: 1, lossEnergyScore: 0.5, lossEnergyMatching: 0.5, lossTargetScore: 0.5, gradNorm: 3, lr: 1e-3, seconds: 0.01 };
  w.appendLog({ type: 'train', rung: 0, ...step });
  w.appendLog({ type: 'rung', ...rung });
  writeNpy(w.samplesPath(0), new Float64Array(8 * 16).map((_, i) => Math.sin(i)), [16, 8], 'float64');
  const progress: ProgressFile = { version: 1, rung: 1, stepOnRung: 10, checkpoint: checkpointName(1, 10), evaluations: { 'initial-data': 100 }, rungs: [rung], done: false };
  w.writeProgress(progress);
  assert.equal(w.holdsRun(), true);
  return dir;
}

test('the reader reads back what the writer wrote', () => {
  const dir = writeRun();
  const run = readRunDirectory(dir);
  assert.equal(run.config?.target, 'dw4');
  assert.equal(run.log.train.length, 1);
  assert.equal(run.log.train[0].loss, 2.5);
  assert.deepEqual(run.log.rungs, [rung]);
  assert.deepEqual(run.log.initialData[0].swapAcceptance, [0.7]);
  assert.equal(run.log.unreadable, 0);
  assert.equal(run.progress?.stepOnRung, 10);
  assert.deepEqual(run.samples.map((s) => s.rung), [0]);
  assert.equal(run.status.state, 'incomplete');
  assert.equal(checkpointName(2, 0), 'rung2-step0.safetensors');
  assert.ok(isRungStartCheckpoint(checkpointName(2, 0)) && !isRungStartCheckpoint(checkpointName(2, 10)));
  assert.ok(!isRungStartCheckpoint(annealCheckpointName(2, 0)));
  // A rung whose annealing stopped part way: progress.json names its annealing checkpoint too.
  const progress = JSON.parse(readFileSync(join(dir, PROGRESS_FILE), 'utf8')) as ProgressFile;
  new RunDirectoryWriter(dir).writeProgress({ ...progress, stepOnRung: 30, anneal: annealCheckpointName(1, 12) });
  const annealing = readRunDirectory(dir);
  assert.equal(annealing.progress?.anneal, 'rung1-anneal12.safetensors');
  assert.equal(annealing.status.text, 'incomplete: rung 1 trained, its annealing stopped part way (checkpoints/rung1-anneal12.safetensors); 1 of 1 annealing steps done');
});

test('pita report reads a run without loading the orchestrator or the tensor engine', () => {
  const dir = writeRun();
  // tfjs-core creates its engine on globalThis._tfengine when it is loaded.
  const script = `
    import { main } from './src/cli/main.ts';
    const code = await main(['report', ${JSON.stringify(dir)}]);
    console.log(JSON.stringify({ code, tensor: '_tfengine' in globalThis }));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { code: number; tensor: boolean };
  assert.equal(out.code, 0, r.stdout + r.stderr);
  assert.equal(out.tensor, false, 'pita report loaded @tensorflow/tfjs-core');
  assert.ok(existsSync(join(dir, 'report.html')));
  assert.match(readFileSync(join(dir, 'report.html'), 'utf8'), /incomplete/);
});
