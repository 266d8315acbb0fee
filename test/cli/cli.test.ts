import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readNpyFloat64, writeNpy } from '../../src/io/npy.js';
import { runCli } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'pita-cli-'));
const path = (name: string) => join(dir, name);

const run = runCli;

const PHI = (1 + Math.sqrt(5)) / 2;
/** LJ-13 icosahedron: the centre plus 12 unit vertices; U = −79.163018 (spec §1.2). */
function icosahedron(): Float64Array {
  const v: number[][] = [[0, 0, 0]];
  for (const a of [1, -1]) for (const b of [PHI, -PHI]) v.push([0, a, b], [a, b, 0], [b, 0, a]);
  const s = Math.sqrt(1 + PHI * PHI);
  return Float64Array.from(v.flatMap((p, i) => (i === 0 ? p : p.map((c) => c / s))));
}

test('energy: the icosahedron gives −79.163018, forces and log p written', async () => {
  writeNpy(path('ico.npy'), icosahedron(), [1, 39]);
  const r = await run('energy', '--target', 'lj13', '--in', path('ico.npy'), '--out', path('e.npy'), '--forces', path('f.npy'), '--temperature', '4', '--logp', path('lp.npy'));
  assert.equal(r.code, 0, r.err);
  const e = readNpyFloat64(path('e.npy'));
  assert.deepEqual(e.shape, [1]);
  assert.ok(Math.abs(e.data[0] + 79.163018) < 1e-6);
  assert.deepEqual(readNpyFloat64(path('f.npy')).shape, [1, 39]);
  assert.ok(Math.abs(readNpyFloat64(path('lp.npy')).data[0] - 19.790755) < 1e-6);
  assert.match(r.out, /1 configurations, 1 energy evaluations/);
});

test('user errors: one line, exit code 2, naming what is wrong', async () => {
  writeNpy(path('x8.npy'), new Float64Array(16), [2, 8]);
  const nan = new Float64Array(5 * 39);
  nan[2 * 39 + 4] = NaN;
  nan[4 * 39] = Infinity;
  writeNpy(path('nan.npy'), nan, [5, 39]);
  const cases: [string[], RegExp][] = [
    [['energy', '--target', 'lj99', '--in', path('x8.npy'), '--out', path('o.npy')], /unknown target 'lj99'; valid targets: .*aldp.*dw4.*lj13/],
    [['energy', '--target', 'lj13', '--in', path('x8.npy'), '--out', path('o.npy')], /x8\.npy has shape \[2, 8\]; target lj13 needs \[n, 39\]/],
    [['energy', '--target', 'lj13', '--in', path('nan.npy'), '--out', path('o.npy')], /2 of 5 rows contain NaN or Inf \(rows 2, 4\)/],
    [['energy', '--target', 'lj13', '--in', path('missing.npy'), '--out', path('o.npy')], /missing\.npy/],
    [['sample', '--target', 'dw4', '--sampler', 'gibbs', '--n', '5', '--out', path('o.npy')], /unknown sampler 'gibbs'; valid samplers: mala, hmc, langevin, pt/],
    [['sample', '--target', 'dw4', '--sampler', 'mala', '--n', '0', '--out', path('o.npy')], /--n must be an integer ≥ 1, got '0'/],
    [['sample', '--target', 'dw4', '--sampler', 'mala', '--n', '5', '--temperature', '0', '--out', path('o.npy')], /--temperature must be a positive number, got '0'/],
    [['sample', '--target', 'dw4', '--sampler', 'pt', '--n', '5', '--ladder', '1,-2', '--out', path('o.npy')], /--ladder temperature must be a positive number, got '-2'/],
    [['eval', '--target', 'dw4', '--samples', path('x8.npy'), '--reference', path('nan.npy')], /nan\.npy has shape \[5, 39\]; target dw4 needs \[n, 8\]/],
  ];
  for (const [argv, pattern] of cases) {
    const r = await run(...argv);
    assert.equal(r.code, 2, `${argv.join(' ')} → ${r.code}`);
    assert.match(r.err, pattern, argv.join(' '));
    assert.equal(r.err.trim().split('\n').length, 1, `one line, no stack trace: ${r.err}`);
    assert.doesNotMatch(r.err, /\n\s+at /);
  }
});

test('sample: same seed gives byte-identical output; summary reports acceptance and evaluations', async () => {
  const args = ['sample', '--target', 'dw4', '--sampler', 'mala', '--n', '40', '--chains', '8', '--warmup', '50', '--thin', '2', '--seed', '5', '--quiet'];
  const a = await run(...args, '--out', path('a.npy'));
  const b = await run(...args, '--out', path('b.npy'));
  assert.equal(a.code, 0, a.err);
  assert.equal(b.code, 0, b.err);
  assert.deepEqual(readFileSync(path('a.npy')), readFileSync(path('b.npy')));
  assert.deepEqual(readNpyFloat64(path('a.npy')).shape, [40, 8]);
  // 8 chains: 8 (init) + 50·8 (warm-up) + 5 collections · 2 thin · 8 = 488 evaluations.
  assert.match(a.out, /energy evaluations: 488 \(init 8, warm-up 400, sampling 80\)/);
  assert.match(a.out, /acceptance: warm-up 0\.\d+, sampling 0\.\d+/);
});

test('eval: a sample against itself has zero distances; --json is machine-readable', async () => {
  const s = await run('sample', '--target', 'dw4', '--sampler', 'pt', '--n', '64', '--warmup', '20', '--thin', '1', '--quiet', '--out', path('pt.npy'));
  assert.equal(s.code, 0, s.err);
  const r = await run('eval', '--target', 'dw4', '--samples', path('pt.npy'), '--reference', path('pt.npy'), '--json');
  assert.equal(r.code, 0, r.err);
  const m = JSON.parse(r.out);
  assert.equal(m.nSamples, 64);
  assert.equal(m.energyW1, 0);
  assert.equal(m.energyW2, 0);
  assert.equal(m.distanceW2, 0);
  assert.equal(m.sampleW2, 0);
  assert.ok(Math.abs(m.mmd2) < 1e-12);
  const table = await run('eval', '--target', 'dw4', '--samples', path('pt.npy'), '--reference', path('pt.npy'));
  assert.match(table.out, /energy W1 \(E\/kT\)\s+0\.0000/);
});

test('help lists every command', async () => {
  const r = await run('--help');
  assert.equal(r.code, 0);
  for (const c of ['targets', 'energy', 'sample', 'eval', 'md']) assert.match(r.out, new RegExp(`\\b${c}\\b`));
});

test('the installed bin runs the compiled CLI (after npm ci / npm run build)', { skip: !existsSync('dist/cli/main.js') && 'dist/ not built' }, () => {
  const help = spawnSync(process.execPath, ['bin/pita.js', '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /Usage: pita/);
  const bad = spawnSync(process.execPath, ['bin/pita.js', 'energy', '--target', 'nope', '--in', 'x.npy', '--out', 'y.npy'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^pita: error: unknown target 'nope'/);
});

test('energy: non-finite energies or forces are refused with the rows named, or written with --allow-nonfinite', async () => {
  const x = new Float64Array(4 * 8);
  for (let i = 0; i < 8; i++) x[i] = i; // row 0: finite
  for (let i = 8; i < 32; i++) x[i] = (i % 3) * 1e200 * (i % 2 ? 1 : -1); // rows 1–3: far out, energy overflows
  writeNpy(path('far.npy'), x, [4, 8]);
  const refused = await run('energy', '--target', 'dw4', '--in', path('far.npy'), '--out', path('far-e.npy'), '--forces', path('far-f.npy'));
  assert.equal(refused.code, 2);
  assert.match(refused.err, /^pita: error: .*far\.npy: energy or forces of 3 of 4 configurations are NaN or infinite \(rows 1, 2, 3\); nothing was written \(pass --allow-nonfinite/);
  assert.equal(refused.err.trim().split('\n').length, 1);
  assert.ok(!existsSync(path('far-e.npy')) && !existsSync(path('far-f.npy')));
  const allowed = await run('energy', '--target', 'dw4', '--in', path('far.npy'), '--out', path('far-e.npy'), '--allow-nonfinite');
  assert.equal(allowed.code, 0, allowed.err);
  assert.match(allowed.out, /non-finite: 3 of 4 rows \(rows 1, 2, 3\)/);
  assert.doesNotMatch(allowed.out, /Infinity|NaN/);
  const e = readNpyFloat64(path('far-e.npy')).data;
  assert.ok(Number.isFinite(e[0]) && !Number.isFinite(e[1]));
});

test('sample: a diverging Langevin run stops naming the timestep; unconverged samples come with warnings', async () => {
  const diverged = await run('sample', '--target', 'gaussian2d', '--sampler', 'langevin', '--timestep', '2.5', '--n', '64', '--chains', '8', '--warmup', '0', '--thin', '10', '--quiet', '--out', path('div.npy'));
  assert.equal(diverged.code, 2);
  assert.match(diverged.err, /^pita: error: langevin: the dynamics diverged: kinetic temperature .* reduce the timestep \(now 2\.5\)\n$/);
  assert.ok(!existsSync(path('div.npy')));
  // 8 chains × 8 draws, 2 steps apart, from a 5-step warm-up: far too short for GMM-40's modes.
  const short = await run('sample', '--target', 'gmm40', '--sampler', 'mala', '--n', '64', '--chains', '8', '--warmup', '5', '--thin', '2', '--quiet', '--out', path('short.npy'));
  assert.equal(short.code, 0, short.err);
  assert.match(short.err, /warning: not converged: .*R̂ [\d.]+ > 1\.01.*lengthen the warm-up \(warmup, now 5\)/);
  assert.match(short.out, /NOT converged/);
  const tiny = await run('sample', '--target', 'dw4', '--sampler', 'mala', '--step-size', '1e6', '--n', '64', '--chains', '8', '--warmup', '2', '--quiet', '--out', path('tiny.npy'));
  assert.equal(tiny.code, 0, tiny.err);
  assert.match(tiny.err, /warning: acceptance 0\.00 % after warm-up is below 1 %.*reduce the step size \(stepSize, --step-size; adapted to [\d.e+]+\)/);
});

test("sample with only a target and --n: the target's default sampler, adaptive warm-up and thin, and no warning", async () => {
  const r = await run('sample', '--target', 'gaussian2d', '--n', '2000', '--workers', '1', '--json', '--quiet', '--out', path('default.npy'));
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, '');
  const s = JSON.parse(r.out) as { sampler: string; chains: number; thin: number; warnings: string[]; convergence: { converged: boolean } };
  assert.deepEqual([s.sampler, s.chains, s.warnings, s.convergence.converged], ['mala', 20, [], true]);
  assert.ok(s.thin >= 10, `thin ${s.thin}`);
});

test('md: a run too short to converge prints its convergence line and a warning', async () => {
  const r = await run('md', '--target', 'aldp', '--temperature', '300', '--frames', '8', '--interval', '1', '--warmup', '0', '--no-minimize', '--replicas', '2', '--quiet', '--out', path('md.npy'));
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /convergence \(2 chains × 8 draws\): energy R̂ .* NOT converged/);
  assert.match(r.err, /warning: .*lengthen the warm-up \(now 0 steps\), the run \(more frames\), or the interval \(now 1 steps\)/);
});
