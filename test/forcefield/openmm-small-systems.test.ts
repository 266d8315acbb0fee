// Small hand-made systems evaluated by OpenMM 7.7 (Reference platform, double precision),
// written by fixtures/make-openmm-fixtures.py: torsions with phases that are odd in φ (sign
// convention), reaction-field Coulomb with ε_rf = 78.5, pairs beyond the cutoff, NoCutoff,
// native GBSAOBCForce (OBC2, ONE_4PI_EPS0, engulfment correction) and the CustomGBForce forms of
// OBC1 (cutoff) and OBC2 (no cutoff), including a frame with one atom inside another's scaled
// GB sphere. Same formulas in float64, so agreement is ~1e-14 relative; the tolerances
// (1e-10 relative energy, 1e-9 of the largest force component) leave room for summation order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseSystemXml } from '../../src/forcefield/xml.js';
import { GBSAOBCForce } from '../../src/forcefield/gbsa-obc.js';

interface Case {
  name: string;
  force_names: string[];
  xml: string;
  frames: { positions: number[][]; energy_by_force: number[]; forces_by_force: number[][][] }[];
}
const fixture = JSON.parse(readFileSync(new URL('./fixtures/openmm-small-systems.json', import.meta.url), 'utf8')) as { cases: Case[] };

for (const c of fixture.cases) {
  test(`${c.name}: per-force energies and forces match OpenMM`, (t) => {
    const system = parseSystemXml(c.xml);
    assert.deepEqual(system.forceNames, c.force_names);
    let worstE = 0;
    let worstF = 0;
    c.frames.forEach((frame, f) => {
      const terms = system.energyAndForcesByForce(Float64Array.from(frame.positions.flat()));
      terms.forEach((term, k) => {
        const eRef = frame.energy_by_force[k];
        const relE = Math.abs(term.energy[0] - eRef) / Math.max(1, Math.abs(eRef));
        assert.ok(relE <= 1e-10, `${term.name} frame ${f}: energy ${term.energy[0]} vs OpenMM ${eRef}`);
        const ref = frame.forces_by_force[k].flat();
        const scale = Math.max(1, ...ref.map(Math.abs));
        ref.forEach((v, i) => {
          const rel = Math.abs(term.forces[i] - v) / scale;
          assert.ok(rel <= 1e-9, `${term.name} frame ${f} component ${i}: force ${term.forces[i]} vs OpenMM ${v}`);
          worstF = Math.max(worstF, rel);
        });
        worstE = Math.max(worstE, relE);
      });
    });
    t.diagnostic(`${c.name}: worst relative ΔE ${worstE.toExponential(1)}, worst ΔF/max|F| ${worstF.toExponential(1)}`);
  });
}

test('the fixture exercises the cutoff and the engulfed GB case', () => {
  const native = fixture.cases.find((c) => c.name === 'nocutoff-native-obc2');
  assert.ok(native);
  const gb = parseSystemXml(native.xml).forces[1];
  assert.ok(gb instanceof GBSAOBCForce);
  // Frame 5 puts particle 5 inside particle 6's scaled sphere: toggling the correction must change the energy.
  const x = Float64Array.from(native.frames[5].positions.flat());
  const without = new GBSAOBCForce(gb.particles, { ...gb.options, engulfmentCorrection: false });
  assert.ok(Math.abs(gb.evaluate(x, 0, null, 0) - without.evaluate(x, 0, null, 0)) > 1e-3);
  // Frame 4 has pairs beyond the 0.9 nm cutoff, so matching OpenMM there requires dropping them.
  const cut = fixture.cases.find((c) => c.name === 'custom-obc1-cutoff');
  assert.ok(cut);
  const pos = cut.frames[4].positions;
  const far = pos.some((p, i) => pos.some((q, j) => j > i && Math.hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]) > 0.9));
  assert.ok(far, 'frame 4 has a pair beyond the cutoff');
});
