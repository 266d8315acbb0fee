import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import { createTarget, targetNames } from '../../src/targets/registry.js';
import '../../src/targets/builtin.js';

const isUserError = (re: RegExp) => (e: unknown) => e instanceof UserError && re.test(e.message);

test('builtin registers gmm40, dw4, lj13 and lj55 with their shapes', () => {
  for (const name of ['gmm40', 'dw4', 'lj13', 'lj55']) assert.ok(targetNames().includes(name), name);
  const shapes = { gmm40: [2, 1, 2, false], dw4: [8, 4, 2, true], lj13: [39, 13, 3, true], lj55: [165, 55, 3, true] };
  for (const [name, [dim, np, sd, ti]] of Object.entries(shapes)) {
    const t = createTarget(name);
    assert.equal(t.name, name);
    assert.deepEqual([t.dim, t.nParticles, t.spatialDim, t.translationInvariant], [dim, np, sd, ti], name);
    assert.equal(t.kB, 1);
    assert.equal(t.defaultTemperature, 1);
  }
});

test("createTarget('nope') throws a UserError listing the valid names", () => {
  assert.throws(() => createTarget('nope'), isUserError(/unknown target 'nope'; valid targets: .*dw4.*gmm40.*lj13.*lj55/));
});

test('unknown option keys are rejected with the list of valid keys; values must be finite numbers', () => {
  assert.throws(() => createTarget('dw4', { d: 4 }), isUserError(/target dw4: unknown option 'd'; valid options: a, b, c, d0, tau$/));
  assert.throws(() => createTarget('lj13', { nParticles: 20 }), isUserError(/valid options: energyFactor, epsilon, oscillatorScale, rm$/));
  assert.throws(() => createTarget('lj55', { sigma: 1 }), isUserError(/target lj55: unknown option 'sigma'/));
  assert.throws(() => createTarget('gmm40', { std: 2 }), isUserError(/valid options: \(none\)$/));
  assert.throws(() => createTarget('dw4', { b: '-4' }), isUserError(/option b must be a finite number, got "-4"/));
  assert.throws(() => createTarget('lj13', { rm: Number.POSITIVE_INFINITY }), isUserError(/option rm must be a finite number/));
  assert.throws(() => createTarget('dw4', [] as unknown as Record<string, unknown>), isUserError(/options must be an object, got an array/));
});

test('options reach the targets: lj13 energyFactor 0.5 halves the pair term, dw4 tau divides the energy', () => {
  // U(f) = f·E_LJ + E_osc, where E_LJ is the f = 1 pair term (the energy with oscillatorScale 0): U(0.5) = U(1) − E_LJ/2.
  const x = createTarget('lj13').initialConfigurations(new Rng(3), 4);
  const u1 = createTarget('lj13').energy(x);
  const uHalf = createTarget('lj13', { energyFactor: 0.5 }).energy(x);
  const uOsc0 = createTarget('lj13', { oscillatorScale: 0 }).energy(x);
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(uHalf[i] - (u1[i] - 0.5 * uOsc0[i])) < 1e-9 * Math.max(1, Math.abs(u1[i])));
  const y = createTarget('dw4').initialConfigurations(new Rng(4), 4);
  const e1 = createTarget('dw4').energy(y);
  const e3 = createTarget('dw4', { tau: 3 }).energy(y);
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(e3[i] - e1[i] / 3) < 1e-12 * Math.max(1, Math.abs(e1[i])));
});

test('each instance counts evaluated configurations: energy and energyAndForces add n, the n argument is honoured', () => {
  for (const name of ['gmm40', 'dw4', 'lj13', 'lj55']) {
    const t = createTarget(name);
    const x = t.initialConfigurations(new Rng(9), 7);
    assert.equal(t.counter.total, 0, name);
    t.energy(x);
    assert.equal(t.counter.total, 7, name);
    t.energyAndForces(x, 3);
    assert.equal(t.counter.total, 10, name);
    t.counter.attribute('buffer', () => t.energy(x, 2));
    assert.deepEqual(t.counter.breakdown(), { buffer: 2, unattributed: 10 }, name);
    assert.equal(createTarget(name).counter.total, 0, `${name}: a fresh instance has its own counter`);
  }
});
