import assert from 'node:assert/strict';
import { test } from 'node:test';
import { moduleNextTo, WorkerPool } from '../../src/parallel/pool.js';

const jobs = moduleNextTo(import.meta.url, 'fixture-jobs');

test('a pool runs a job on chunks in workers and returns the results in chunk order', async () => {
  const pool = new WorkerPool(2);
  try {
    const out = await pool.run<number, { x: number; sq: number; worker: number }>(jobs, 'square', [3, 1, 4, 1, 5]);
    assert.deepEqual(out.map((r) => r.sq), [9, 1, 16, 1, 25]);
    assert.deepEqual(out.map((r) => r.worker), [0, 1, 0, 1, 0]);
    // Per-worker state lasts between runs.
    assert.deepEqual(await pool.run(jobs, 'count', [null, null]), [1, 1]);
    assert.deepEqual(await pool.run(jobs, 'count', [null, null]), [2, 2]);
  } finally {
    await pool.close();
  }
});

test('a job that throws rejects the run with one line naming the worker', async () => {
  const pool = new WorkerPool(2);
  await assert.rejects(pool.run(jobs, 'fail', [0, 1, 2, 3]), { message: 'worker 0 failed: chunk 2 is bad' });
  await assert.rejects(pool.run(jobs, 'square', [1]), /worker 0 failed/);
  await pool.close();
});

test('a worker that dies rejects the run with one line naming it', async () => {
  const pool = new WorkerPool(2);
  await assert.rejects(pool.run(jobs, 'die', [0, 1]), { message: 'worker 1 failed: it exited with code 7' });
  await pool.close();
});

test('an unknown job is named', async () => {
  const pool = new WorkerPool(1);
  await assert.rejects(pool.run(jobs, 'nope', [0]), { message: `worker 0 failed: ${jobs} has no job 'nope'` });
  await pool.close();
});
