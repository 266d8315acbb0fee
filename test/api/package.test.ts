/**
 * The package as a user gets it: build into a temporary folder (never the
 * worktree's dist/, which other tests read while this one runs), `npm pack`
 * it, unpack the tarball as node_modules/pita of a fresh project and run the
 * README's "Use as a library" example there by package name. Dependencies
 * are linked from this worktree's node_modules, so no network or npm cache is
 * needed (the CI machine is offline).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  files: string[];
  dependencies: Record<string, string>;
  exports: Record<string, string | { types: string; default: string }>;
};

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** The first ```js block of the README's "Use as a library" section. */
function readmeExample(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.split(/^## Use as a library$/m)[1];
  assert.ok(section, 'README has a "## Use as a library" section');
  const m = /```js\n([\s\S]*?)```/.exec(section);
  assert.ok(m, 'the section has a js example');
  return m[1];
}

test('the packed package installs and runs the README library example by package name', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'pita-pack-'));
  const stage = join(tmp, 'pkg');
  mkdirSync(stage);
  run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', join(stage, 'dist'), '--sourceMap', 'false', '--noCheck'], root); // npm test type-checks already
  for (const f of ['package.json', ...pkg.files.filter((f) => f !== 'dist')]) {
    mkdirSync(dirname(join(stage, f)), { recursive: true });
    cpSync(join(root, f), join(stage, f), { recursive: true });
  }
  const tarball = run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', tmp], stage).trim().split('\n').at(-1)!;

  const app = join(tmp, 'app');
  const modules = join(app, 'node_modules');
  mkdirSync(modules, { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  run('tar', ['-xzf', join(tmp, tarball), '-C', modules], app);
  renameSync(join(modules, 'package'), join(modules, 'pita'));
  for (const dep of Object.keys(pkg.dependencies)) {
    mkdirSync(dirname(join(modules, dep)), { recursive: true });
    symlinkSync(join(root, 'node_modules', dep), join(modules, dep), 'dir');
  }

  // Every subpath ships its JavaScript and its types.
  for (const [sub, entry] of Object.entries(pkg.exports)) {
    if (typeof entry === 'string') continue;
    assert.ok(existsSync(join(modules, 'pita', entry.default)), `${sub}: ${entry.default} is in the tarball`);
    assert.ok(existsSync(join(modules, 'pita', entry.types)), `${sub}: ${entry.types} is in the tarball`);
  }
  assert.ok(readdirSync(join(modules, 'pita', 'configs')).includes('dw4.quick.yaml'));

  writeFileSync(join(app, 'example.mjs'), readmeExample());
  const r = spawnSync(process.execPath, ['example.mjs'], { cwd: app, encoding: 'utf8' });
  assert.equal(r.status, 0, `the example failed:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /^PT: 512 samples, swap acceptance (0\.\d\d ){2}0\.\d\d$/m);
  const m = /^PITA: (\d+) samples; energy W2 ([\d.]+), distance W2 ([\d.]+)$/m.exec(r.stdout);
  assert.ok(m, `PITA line in:\n${r.stdout}`);
  assert.ok(Number(m[1]) > 0 && Number.isFinite(Number(m[2])) && Number.isFinite(Number(m[3])), r.stdout);

  // The root entry is curated and loads no tensor code; pita/targets is the full registry on its own.
  const probe = `
    import * as root from 'pita';
    import { targetNames } from 'pita/targets';
    // tfjs-core creates its engine on globalThis._tfengine when it is loaded.
    console.log(JSON.stringify({ names: Object.keys(root), targets: targetNames(), tensor: '_tfengine' in globalThis }));`;
  writeFileSync(join(app, 'probe.mjs'), probe);
  const out = JSON.parse(run(process.execPath, ['probe.mjs'], app)) as { names: string[]; targets: string[]; tensor: boolean };
  assert.equal(out.tensor, false, 'importing pita and pita/targets loaded the tensor engine');
  for (const internal of ['evaluate', 'checkPositive', 'rowFinite', 'transpose', 'matMul', 'initialBatch']) assert.ok(!out.names.includes(internal), `root exports ${internal}`);
  for (const name of ['createTarget', 'runSampler', 'parallelTempering', 'mala', 'evaluateSamples', 'readNpy']) assert.ok(out.names.includes(name), `root lacks ${name}`);
  assert.deepEqual(out.targets, ['al3', 'aldp', 'dw4', 'gaussian2d', 'gmm40', 'lj13', 'lj55']);
});
