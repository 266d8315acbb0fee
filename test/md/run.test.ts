import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InterruptedError, runMd, type MdOptions } from '../../src/md/run.js';
import { createTarget } from '../../src/targets/index.js';

const dir = mkdtempSync(join(tmpdir(), 'pita-md-'));
const base: MdOptions = { temperature: 300, frames: 6, interval: 20, timestep: 0.001, friction: 0.3, warmupSteps: 30, replicas: 2, seed: 11 };

test('MD after minimisation thermalises ALDP: frames finite, energies near the built minimum plus kT scale', async () => {
  const target = createTarget('aldp');
  const r = await runMd(target, base);
  assert.equal(r.nFrames, 12);
  assert.ok(r.minimizedEnergy !== null && r.minimizedEnergy < -150, `minimised energy ${r.minimizedEnergy}`);
  for (const e of r.energies) assert.ok(Number.isFinite(e) && e > r.minimizedEnergy! && e < r.minimizedEnergy! + 300);
  // One evaluation per replica per step, plus minimisation.
  assert.ok(r.evaluations >= 2 * (30 + 6 * 20));
});

test('an interrupted run resumed from its checkpoint is bit-identical to an uninterrupted one', async () => {
  const full = await runMd(createTarget('aldp'), base);
  const ckpt = join(dir, 'resume.ckpt.json');
  // Interrupt at the first progress report after step 70 by aborting (what the CLI does on Ctrl-C).
  const abort = new AbortController();
  await assert.rejects(
    runMd(createTarget('aldp'), {
      ...base,
      checkpointPath: ckpt,
      progressIntervalMs: 0,
      signal: abort.signal,
      onProgress: (p) => {
        if (p.step >= 70) abort.abort();
      },
    }),
    InterruptedError,
  );
  assert.ok(existsSync(ckpt));
  const step = JSON.parse(readFileSync(ckpt, 'utf8')).step as number;
  assert.ok(step >= 70 && step < 150, `checkpoint at step ${step}`);
  const resumed = await runMd(createTarget('aldp'), { ...base, checkpointPath: ckpt, resume: true });
  assert.equal(resumed.resumedFromStep, step);
  assert.deepEqual(Array.from(resumed.frames), Array.from(full.frames));
  assert.deepEqual(Array.from(resumed.energies), Array.from(full.energies));
});

test('resuming with different settings is refused, naming them', async () => {
  const ckpt = join(dir, 'other.ckpt.json');
  await runMd(createTarget('aldp'), { ...base, frames: 1, checkpointPath: ckpt });
  await assert.rejects(runMd(createTarget('aldp'), { ...base, frames: 1, seed: 12, checkpointPath: ckpt, resume: true }), /different settings \(seed: 11\)/);
});

test('exploding coordinates stop with a clear message and keep the last good checkpoint', async () => {
  const ckpt = join(dir, 'boom.ckpt.json');
  await assert.rejects(
    runMd(createTarget('aldp'), { ...base, replicas: 1, timestep: 0.02, minimize: false, warmupSteps: 0, frames: 50, interval: 100, checkpointPath: ckpt }),
    (e: Error) => /MD exploded at step \d+ of 5000: .*(non-finite|diverged).*The last good state \(step \d+\) is in .*boom\.ckpt\.json/.test(e.message),
  );
  const ck = JSON.parse(readFileSync(ckpt, 'utf8'));
  const x = Buffer.from(ck.x, 'base64');
  assert.ok(x.length > 0);
  // The saved state is finite: it resumes (and explodes again at the same step, deterministically).
  await assert.rejects(
    runMd(createTarget('aldp'), { ...base, replicas: 1, timestep: 0.02, minimize: false, warmupSteps: 0, frames: 50, interval: 100, checkpointPath: ckpt, resume: true }),
    new RegExp(`MD exploded at step ${ck.step + 1} of 5000`),
  );
});

test('replicas split across 2 workers give the same frames as one thread, and a checkpoint of one resumes on the other', async () => {
  const opts: MdOptions = { ...base, replicas: 3, frames: 3 };
  const one = await runMd(createTarget('aldp'), opts);
  const two = await runMd(createTarget('aldp'), { ...opts, workers: 2, spec: { target: 'aldp' } });
  assert.deepEqual(Array.from(two.frames), Array.from(one.frames));
  assert.deepEqual(Array.from(two.energies), Array.from(one.energies));
  assert.equal(two.meanKineticTemperature, one.meanKineticTemperature);
  assert.equal(two.minimizedEnergy, one.minimizedEnergy);
  assert.equal(two.evaluations, one.evaluations);
  // Interrupted on 2 workers, resumed in this thread: still the same frames.
  const ckpt = join(dir, 'workers.ckpt.json');
  const abort = new AbortController();
  await assert.rejects(
    runMd(createTarget('aldp'), { ...opts, workers: 2, spec: { target: 'aldp' }, checkpointPath: ckpt, progressIntervalMs: 0, signal: abort.signal, onProgress: (p) => p.step >= 50 && abort.abort() }),
    InterruptedError,
  );
  const resumed = await runMd(createTarget('aldp'), { ...opts, checkpointPath: ckpt, resume: true });
  assert.deepEqual(Array.from(resumed.frames), Array.from(one.frames));
  await assert.rejects(runMd(createTarget("aldp"), { ...opts, workers: 2 }), /needs the target as a spec/);
});
