/**
 * The data-parallel trainer's host optimiser (src/pita/host-optimizer.ts):
 * clip, Adam and EMA on flat arrays agree with the engine's
 * `clipGradNorm`, `Adam.step` and `Ema.update` to float32 rounding, over
 * several steps, with a parameter whose gradient is null and with both clip
 * scopes; its state round-trips through the checkpoint format.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { Rng } from '../../src/core/rng.js';
import { HostOptimizer, type HostNetworkState } from '../../src/pita/host-optimizer.js';
import * as T from '../../src/tensor/index.js';

before(async () => {
  await T.initTensorBackend();
});

const SHAPES: Record<'score' | 'energy', Array<[string, number[]]>> = {
  score: [['w', [3, 4]], ['b', [4]], ['unused', [2]]],
  energy: [['w', [3, 4]], ['b', [4]], ['unused', [2]]],
};
const OPTS = { lr: 0.05, beta1: 0.9, beta2: 0.999, eps: 1e-8, clipNorm: 0.5 };
const DECAY = 0.9;
const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

function store(rng: Rng, net: 'score' | 'energy'): T.ParamStore {
  const s = new T.ParamStore();
  for (const [name, shape] of SHAPES[net]) s.add(name, shape, { kind: 'values', data: Float32Array.from(rng.normals(size(shape))) });
  return s;
}

describe('host optimiser', () => {
  for (const clipScope of ['global', 'network'] as const) {
    test(`agrees with the engine's clip, Adam and EMA over 4 steps (clipScope ${clipScope}, a null gradient, 1e-5 of each array's largest value)`, async () => {
      const rng = new Rng(3);
      const stores = { score: store(rng, 'score'), energy: store(rng, 'energy') };
      const adam = { score: new T.Adam(stores.score, OPTS), energy: new T.Adam(stores.energy, OPTS) };
      const ema = { score: new T.Ema(stores.score, DECAY), energy: new T.Ema(stores.energy, DECAY) };
      const layout = (net: 'score' | 'energy') => ({ names: SHAPES[net].map(([n]) => n), sizes: SHAPES[net].map(([, s]) => size(s)) });
      const initial = async (net: 'score' | 'energy'): Promise<HostNetworkState> => ({ params: await stores[net].readAll(), adam: await adam[net].getState(), ema: await ema[net].getState() });
      const host = new HostOptimizer({ score: layout('score'), energy: layout('energy') }, { score: await initial('score'), energy: await initial('energy') }, DECAY, { ...OPTS, clipScope });
      const isNull = [false, false, true, false, false, true];
      for (let step = 0; step < 4; step++) {
        // Gradients large enough that the clip is active (norm ≫ 0.5).
        const flat = Float32Array.from(rng.normals(host.params.length), (g) => 3 * g);
        let offset = 0;
        const grads = new Map<string, T.ParamGrads>();
        let index = 0;
        for (const net of ['score', 'energy'] as const) {
          const g: T.ParamGrads = new Map();
          for (const [name, shape] of SHAPES[net]) {
            g.set(`${net}/${name}`, isNull[index++] ? null : T.fromF32(flat.slice(offset, offset + size(shape)), shape));
            offset += size(shape);
          }
          grads.set(net, g);
        }
        const merged: T.ParamGrads = new Map([...(grads.get('score') as T.ParamGrads), ...(grads.get('energy') as T.ParamGrads)]);
        const clips = clipScope === 'global' ? [T.clipGradNorm(merged, OPTS.clipNorm)] : (['score', 'energy'] as const).map((net) => T.clipGradNorm(grads.get(net) as T.ParamGrads, OPTS.clipNorm));
        const norms = await Promise.all(clips.map((c) => T.read(c.norm)));
        const engineNorm = Math.sqrt(norms.reduce((a, n) => a + n[0] ** 2, 0));
        const factors = T.fromF32(adam.score.nextFactors(), [2]);
        const rate = 1 - ema.score.nextDecay();
        for (const net of ['score', 'energy'] as const) {
          const clipped = new Map(clips.flatMap((c) => [...c.grads]));
          adam[net].step(new Map(SHAPES[net].map(([name]) => [name, clipped.get(`${net}/${name}`) ?? null])), factors);
          adam[net].advance(SHAPES[net].filter((_, i) => !isNull[(net === 'score' ? 0 : 3) + i]).map(([n]) => n));
          ema[net].update(T.fromF32(Float32Array.of(rate), []));
          ema[net].advance();
        }
        const r = host.step(flat, isNull);
        assert.ok(Math.abs(r.norm - engineNorm) <= 1e-5 * engineNorm, `step ${step}: norm ${r.norm} vs ${engineNorm}`);
        assert.deepEqual(r.stepped, { score: ['w', 'b'], energy: ['w', 'b'] });
        for (const net of ['score', 'energy'] as const) {
          const want = { params: await stores[net].readAll(), adam: await adam[net].getState(), ema: await ema[net].getState() };
          const got = host.state(net);
          assert.deepEqual(got.adam.steps, want.adam.steps);
          assert.equal(got.ema.numUpdates, want.ema.numUpdates);
          for (const [name] of SHAPES[net]) {
            for (const [what, a, b] of [
              ['param', got.params[name], want.params[name]],
              ['shadow', got.ema.shadows[name], want.ema.shadows[name]],
              ['m', got.adam.m[name], want.adam.m[name]],
              ['v', got.adam.v[name], want.adam.v[name]],
            ] as const) {
              if (b === undefined) {
                assert.equal(a, undefined, `${net}/${name} ${what}: the host has moments the engine has not`);
                continue;
              }
              // Relative to the array's largest value: an entry can be a difference of larger numbers (p − Δ, β₁m + (1−β₁)g).
              const scale = b.reduce((s, x) => Math.max(s, Math.abs(x)), 0);
              a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) <= 1e-5 * scale, `step ${step} ${net}/${name} ${what}[${i}]: ${x} vs ${b[i]}`));
            }
          }
        }
      }
      // The checkpoint format round-trips: a host optimiser built from its own state continues identically.
      const again = new HostOptimizer({ score: layout('score'), energy: layout('energy') }, { score: host.state('score'), energy: host.state('energy') }, DECAY, { ...OPTS, clipScope });
      const g = Float32Array.from(rng.normals(host.params.length));
      host.step(g, isNull);
      again.step(g, isNull);
      assert.deepEqual(again.params, host.params);
      assert.deepEqual(again.state('energy'), host.state('energy'));
      for (const net of ['score', 'energy'] as const) {
        adam[net].dispose();
        ema[net].dispose();
        stores[net].dispose();
      }
    });
  }
});
