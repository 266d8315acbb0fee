/**
 * Ctrl-C and SIGTERM during `pita run` and `pita md` (src/cli/interrupt.ts):
 * the command stops at its next safe point, saves its resume state, releases
 * its lock and exits 130; `--resume` then continues without taking over a
 * stale lock, and a resumed `pita run` ends bit-identical to an uninterrupted
 * one. The commands run in child processes, which get real signals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as yamlStringify } from 'yaml';
import { parseRunConfig } from '../../src/pita/config.js';
import { runPita } from '../../src/pita/run.js';
import { tinyConfig } from '../report/fixtures.js';
import { runCli } from './helpers.js';

const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'pita-interrupt-'));

/**
 * Starts the CLI from the sources in a child process, sends `signal` once
 * `ready()` holds (polled), and resolves with its exit code and stderr.
 */
function interrupted(args: string[], ready: () => boolean, signal: NodeJS.Signals): Promise<{ code: number | null; err: string; sent: boolean }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/pita-dev.ts', ...args], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  let sent = false;
  const poll = setInterval(() => {
    if (!sent && ready()) {
      sent = true;
      child.kill(signal);
    }
  }, 10);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearInterval(poll);
      resolve({ code, err, sent });
    }),
  );
}

/** A pid that has exited (for a stale lock). */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

test('Ctrl-C during pita run: a checkpoint at the current step, the lock released, exit 130; --resume ends as the uninterrupted run', async () => {
  // One rung of 400 training steps (no periodic checkpoint inside it), one anneal, no metrics: the signal lands in training.
  const raw = { ...tinyConfig(undefined), ladder: { temperatures: [3, 2] }, baseline: 'none' as const };
  raw.training = { ...raw.training, stepsPerTemperature: 400, stepsAfterLast: 0, checkpointEvery: 5000 };
  const config = parseRunConfig(raw, 'interrupt');
  const file = join(dir, 'run.yaml');
  writeFileSync(file, yamlStringify(config));
  const out = join(dir, 'run');
  const log = join(out, 'log.jsonl');
  const r = await interrupted(['run', file, '--out', out, '--quiet'], () => existsSync(log) && readFileSync(log, 'utf8').includes('"type":"train"'), 'SIGINT');
  assert.ok(r.sent, `the run ended before it trained: ${r.err}`);
  assert.equal(r.code, 130, r.err);
  assert.match(r.err, /Ctrl-C: stopping at the next safe point/);
  const m = r.err.match(/pita: run interrupted \(at training step (\d+) of 400 at T=3; checkpoint written\); continue from its last checkpoint with --resume/);
  assert.ok(m, r.err);
  assert.equal(existsSync(join(out, '.lock')), false, 'lock released');
  const progress = JSON.parse(readFileSync(join(out, 'checkpoints', 'progress.json'), 'utf8'));
  assert.equal(progress.stepOnRung, Number(m[1]));
  assert.equal(progress.checkpoint, `rung0-step${m[1]}.safetensors`);
  assert.ok(Number(m[1]) > 0 && Number(m[1]) < 400);

  const resumed = await runCli('run', file, '--out', out, '--resume', '--quiet');
  assert.equal(resumed.code, 0, resumed.err);
  assert.doesNotMatch(resumed.err, /stale lock/);
  assert.equal(existsSync(join(out, '.lock')), false);
  // Bit for bit the run that was never interrupted.
  const whole = join(dir, 'whole');
  await runPita(config, { outDir: whole, quiet: true });
  for (const f of ['T_0.npy', 'T_1.npy']) assert.deepEqual(readFileSync(join(out, 'samples', f)), readFileSync(join(whole, 'samples', f)), f);

  // The control: a lock left by a process that is gone is taken over, and that is said.
  writeFileSync(join(out, '.lock'), JSON.stringify({ pid: deadPid(), start: '1', host: hostname() }));
  const after = await runCli('run', file, '--out', out, '--resume', '--quiet');
  assert.equal(after.code, 0, after.err);
  assert.match(after.err, /warning: took over the stale lock .*\.lock of process \d+, which ended without releasing it/);
});

test('SIGTERM during pita md: the checkpoint is written, the lock released, exit 130; --resume finishes the run', async () => {
  const out = join(dir, 'md.npy');
  const lock = `${out}.ckpt.json.lock`;
  const args = ['md', '--target', 'aldp', '--temperature', '300', '--frames', '3000', '--interval', '10', '--warmup', '0', '--quiet', '--out', out];
  const r = await interrupted(args, () => existsSync(lock), 'SIGTERM');
  assert.ok(r.sent);
  assert.equal(r.code, 130, r.err);
  assert.match(r.err, /SIGTERM: stopping at the next safe point/);
  assert.match(r.err, /pita: interrupted at step \d+ of 30000; checkpoint written to .*md\.npy\.ckpt\.json, continue with --resume/);
  assert.equal(existsSync(lock), false, 'lock released');
  assert.equal(existsSync(out), false, 'no frames written by an interrupted run');
  const resumed = await runCli(...args, '--resume');
  assert.equal(resumed.code, 0, resumed.err);
  assert.doesNotMatch(resumed.err, /stale lock/);
  assert.match(resumed.out, /resumed from step \d+/);
  assert.ok(existsSync(out));
});
