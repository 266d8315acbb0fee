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
