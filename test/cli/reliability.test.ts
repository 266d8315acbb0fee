/**
 * Issue 17: outputs, locks, resume checks, size limits and one-line errors,
 * each through the CLI as a user meets them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as yamlStringify } from 'yaml';
import { acquireLock } from '../../src/io/lock.js';
import { readNpyFloat64, writeNpy } from '../../src/io/npy.js';
import { configWarnings, parseRunConfig } from '../../src/pita/config.js';
import { tinyConfig } from '../report/fixtures.js';
import { runCli } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'pita-rel-'));
const path = (name: string) => join(dir, name);

/** Asserts a user error: exit 2, one line on stderr matching `pattern`, no stack trace. */
function assertOneLine(r: { code: number; err: string }, pattern: RegExp, what: string, code = 2): void {
  assert.equal(r.code, code, `${what} → exit ${r.code}: ${r.err}`);
  assert.match(r.err, pattern, what);
  assert.equal(r.err.trim().split('\n').length, 1, `${what}: one line, got ${r.err}`);
  assert.doesNotMatch(r.err, /\n\s+at /);
}

/** The tiny DW-4 run config of the run and report tests, every default filled in. */
const TINY = tinyConfig(undefined);

/** A YAML config file with `patch` applied at the top level. */
function configFile(name: string, patch: Record<string, unknown> = {}): string {
  writeFileSync(path(name), yamlStringify({ ...TINY, ...patch }));
  return path(name);
}

/** A run directory as `pita run` leaves it after its first checkpoint (no real checkpoint file). */
function fakeRun(name: string, progress: string): string {
  const out = path(name);
  mkdirSync(join(out, 'checkpoints'), { recursive: true });
  writeFileSync(join(out, 'config.yaml'), yamlStringify(TINY));
  writeFileSync(join(out, 'checkpoints', 'progress.json'), progress);
  return out;
}

const SAMPLE = ['sample', '--target', 'dw4', '--sampler', 'mala', '--n', '8', '--chains', '4', '--warmup', '5', '--thin', '1', '--quiet'];

test('outputs: special files refused, links written through, every output checked before any is written', async () => {
  assert.equal(spawnSync('mkfifo', [path('fifo')]).status, 0);
  assertOneLine(await runCli(...SAMPLE, '--out', path('fifo')), /refusing to write .*fifo: it exists and is a FIFO, not a regular file/, 'FIFO');
  assert.ok(lstatSync(path('fifo')).isFIFO());

  const r = await runCli(...SAMPLE, '--out', path('a.npy'), '--energies', path('nowhere/e.npy'));
  assertOneLine(r, /cannot write .*nowhere\/e\.npy: directory .*nowhere does not exist/, '--energies in a missing folder');
  assert.equal(existsSync(path('a.npy')), false, 'no a.npy left behind');

  writeFileSync(path('real.npy'), 'old');
  symlinkSync('real.npy', path('link.npy'));
  const ok = await runCli(...SAMPLE, '--out', path('link.npy'));
  assert.equal(ok.code, 0, ok.err);
  assert.ok(lstatSync(path('link.npy')).isSymbolicLink());
  assert.deepEqual(readNpyFloat64(path('real.npy')).shape, [8, 8]);
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);

  writeFileSync(path('plain'), 'x');
  assertOneLine(await runCli('run', configFile('tiny.yaml'), '--out', path('plain/run')), /cannot write .*plain\/run: a part of the path is a file, not a directory/, 'file used as a directory');
  assertOneLine(await runCli(...SAMPLE, '--out', path('plain/a.npy')), /^pita: error: cannot write .*plain\/a\.npy: /, 'file as directory of an output');
});

test('stack traces of the issue are one-line errors with exit 2', async () => {
  writeFileSync(path('xxe.xml'), '<?xml version="1.0"?>\n<!DOCTYPE s [ <!ENTITY x SYSTEM "file:///etc/passwd"> ]>\n<System>&x;</System>\n');
  const cases: [string[], RegExp][] = [
    [['sample', '--target', 'dw4', '--sampler', 'mala', '--n', '3000000000', '--out', path('o.npy'), '--quiet'], /n \(number of samples\) = 3000000000 is too large/],
    [['sample', '--target', 'dw4', '--sampler', 'mala', '--n', '10', '--chains', '1e9', '--out', path('o.npy'), '--quiet'], /chains = 1000000000 is too large/],
    [['serve', dir, '--host', '999.1.1.1', '--port', '0'], /cannot listen on --host 999\.1\.1\.1: not an address of this machine/],
    [['energy', '--system', path('xxe.xml'), '--in', path('o.npy'), '--out', path('o.npy')], /xxe\.xml: unsupported XML: External entities are not supported/],
    [['sample', '--target', 'dw4', '--sampler', 'mala', '--n', '8', '--seed', '9007199254740993', '--out', path('o.npy')], /--seed must be an integer in 0\.\.9007199254740991, got '9007199254740993'/],
    [['sample', '--target', 'dw4', '--sampler', 'langevin', '--n', '8', '--step-size', '0.1', '--out', path('o.npy')], /--step-size applies to --sampler mala, hmc and pt; langevin takes --timestep/],
    [['sample', '--target', 'dw4', '--sampler', 'hmc', '--n', '8', '--timestep', '0.1', '--out', path('o.npy')], /--timestep and --friction apply only to --sampler langevin/],
  ];
  for (const [argv, pattern] of cases) {
    const r = await runCli(...argv);
    assertOneLine(r, pattern, argv.join(' '));
    assert.doesNotMatch(r.err, /onProgress|\brng\b|\bcom\b/, 'no internal option names');
  }
  assert.throws(() => parseRunConfig({ ...TINY, seed: 2 ** 53 }, 'big seed'), /seed: .*9007199254740991/);
});

test('pita eval on two identical one-row sets gives zero distances, not a RangeError', async () => {
  writeNpy(path('one.npy'), Float64Array.from([1, 0, -1, 0, 0, 1, 0, -1]), [1, 8]);
  const r = await runCli('eval', '--target', 'dw4', '--samples', path('one.npy'), '--reference', path('one.npy'), '--json');
  assert.equal(r.code, 0, r.err);
  const m = JSON.parse(r.out);
  assert.equal(m.mmd2, 0);
  assert.equal(m.energyW1, 0);
});

test('config size limits: a 21 MB YAML (7 million list entries) and a 20 000-entry list are refused at once, in one line', async () => {
  const big = path('big.yaml');
  writeFileSync(big, `target: dw4\nladder: { temperatures: [3, 2] }\ntraining:\n  stepsPerTemperature: [${'1, '.repeat(7_000_000)}1]\n`);
  let t0 = performance.now();
  assertOneLine(await runCli('run', big, '--out', path('big-run')), /config .*big\.yaml is \d+ bytes; a config may hold at most 1048576 bytes/, '21 MB YAML');
  assert.ok(performance.now() - t0 < 5000, `refused in ${performance.now() - t0} ms`);
  const long = configFile('long.yaml', { training: { ...TINY.training, stepsPerTemperature: Array.from({ length: 20_000 }, () => 1) } });
  t0 = performance.now();
  assertOneLine(await runCli('run', long, '--out', path('long-run')), /training\.stepsPerTemperature has 20000 entries; at most 10000 are allowed/, 'long list');
  assert.ok(performance.now() - t0 < 5000, `refused in ${performance.now() - t0} ms`);
  assert.equal(existsSync(path('big-run')), false);
});

test('resume: a changed config is refused naming the keys; corrupt files are one-line errors', async () => {
  const ok = JSON.stringify({ version: 1, rung: 0, stepOnRung: 10, checkpoint: 'rung0-step10.safetensors', evaluations: {}, rungs: [], done: false });
  const out = fakeRun('changed', ok);
  assertOneLine(
    await runCli('run', configFile('changed.yaml', { annealing: { ...TINY.annealing, particles: 64 } }), '--out', out, '--resume', '--seed', '4'),
    /cannot resume: the run in .*changed was started with a different config \(annealing\.particles: 128 → 64, seed: 3 → 4\)/,
    'changed config',
  );
  assertOneLine(await runCli('run', configFile('tiny.yaml'), '--out', out, '--resume'), /rung0-step10\.safetensors: not a usable pita trainer checkpoint: .*ENOENT/, 'missing checkpoint');
  writeFileSync(join(out, 'checkpoints', 'rung0-step10.safetensors'), 'garbage');
  assertOneLine(await runCli('run', configFile('tiny.yaml'), '--out', out, '--resume'), /rung0-step10\.safetensors: not a usable pita trainer checkpoint: not a valid safetensors file/, 'corrupt checkpoint');
  assertOneLine(await runCli('run', configFile('tiny.yaml'), '--out', fakeRun('torn', '{"version": 1, "ru'), '--resume'), /run progress .*torn\/checkpoints\/progress\.json is corrupt \(.*\); the run cannot be resumed/, 'corrupt progress.json');
  const done = fakeRun('done', ok);
  writeFileSync(join(done, 'metrics.json'), '{"target": ');
  assertOneLine(await runCli('report', done), /metrics .*done\/metrics\.json is corrupt/, 'corrupt metrics.json on report');
  assertOneLine(await runCli('report', fakeRun('torn2', '[1, 2')), /run progress .*progress\.json is (corrupt|not a PITA progress file)/, 'corrupt progress.json on report');
});

test('locks: a second pita run or md in a locked run is refused, --resume included', async () => {
  const out = path('locked');
  mkdirSync(out);
  const lock = acquireLock(join(out, '.lock'), 'test');
  try {
    for (const extra of [[], ['--resume']]) {
      const r = await runCli('run', configFile('tiny.yaml', { training: { ...TINY.training, batchSize: 4096 } }), '--out', out, '--quiet', ...extra);
      assert.equal(r.code, 2, r.err);
      // The batch-size warning comes first (printed by the CLI), then the lock error.
      assert.match(r.err, /^warning: training\.batchSize 4096 is larger than the smallest replay buffer \(128: data\.samples 400, annealing\.particles 128\)/);
      assert.match(r.err, /pita: error: run directory .*locked is in use by this process \(lock .*locked\/\.lock\)/);
    }
  } finally {
    lock.release();
  }
  const md = ['md', '--target', 'aldp', '--temperature', '300', '--frames', '1', '--interval', '1', '--warmup', '0', '--no-minimize', '--quiet', '--out', path('md.npy')];
  const mdLock = acquireLock(`${path('md.npy')}.ckpt.json.lock`, 'test');
  try {
    assertOneLine(await runCli(...md), /checkpoint .*md\.npy\.ckpt\.json is in use by this process/, 'md while locked');
  } finally {
    mdLock.release();
  }
  assertOneLine(await runCli(...md, '--resume'), /no checkpoint .*md\.npy\.ckpt\.json to resume from; run without --resume/, 'md --resume without checkpoint');
  writeFileSync(`${path('md.npy')}.ckpt.json`, '{"version": 1, "conf');
  assertOneLine(await runCli(...md, '--resume'), /checkpoint .*md\.npy\.ckpt\.json is corrupt \(.*\); delete it and run without --resume/, 'md --resume with a corrupt checkpoint');
  writeFileSync(`${path('md.npy')}.ckpt.json`, '{"version": 2}');
  assertOneLine(await runCli(...md, '--resume'), /checkpoint .*md\.npy\.ckpt\.json is corrupt \(missing x, v, frames, energies, rng\)/, 'md checkpoint without its arrays');
  writeFileSync(`${path('md.npy')}.ckpt.json`, '{"version": 1}');
  assertOneLine(await runCli(...md, '--resume'), /checkpoint .*md\.npy\.ckpt\.json was written by an earlier pita \(one random stream for all replicas\); delete it/, 'md checkpoint of version 1');
  assert.equal(existsSync(path('md.npy')), false);
});

test('batchSize larger than the data is a warning; an empty data.file is a one-line error', async () => {
  assert.deepEqual(configWarnings(TINY), []);
  assert.equal(configWarnings(parseRunConfig({ ...TINY, training: { ...TINY.training, batchSize: 401 } }, 'tiny')).length, 1);
  writeNpy(path('empty.npy'), new Float64Array(0), [0, 8]);
  const cfg = configFile('empty.yaml', { data: { source: 'file', file: path('empty.npy'), samples: 400 } });
  assertOneLine(await runCli('run', cfg, '--out', path('empty-run'), '--quiet'), /empty\.npy holds no configurations \(shape \[0, 8\]\)/, 'empty data.file');
});

test('a GPU refusal for size gets the settings that shrink a step; other GPU failures get none', async () => {
  const { gpuAdvice } = await import('../../src/cli/main.js');
  // lavapipe's words for a DiT step at B = 2048, and an allocation that failed.
  const binding = 'WebGPU refused a captured step: Binding size (138412032) of [Buffer (unlabeled)] is larger than the maximum storage buffer binding size (134217728).';
  for (const m of [binding, 'WebGPU refused a captured step: Out of memory']) {
    assert.match(gpuAdvice(m), /^a smaller training\.microBatchSize \(training\) or annealing\.chunkSize \(annealing\) needs less GPU memory per step; $/, m);
  }
  assert.equal(gpuAdvice('WebGPU failed, so results are not valid: the device was lost (unknown): GPU hang'), '');
});
