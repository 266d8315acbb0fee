// Every ALDP and AL3 fixture frame (OpenMM 7.7, Reference platform, double precision) against
// this engine reading the same system.xml: per-force and total energies within 1e-3 kJ/mol,
// every force component within 1e-2 kJ/mol/nm. The formulas are the same, so the observed
// deviations are round-off (~1e-12); the tolerances are the project's acceptance limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readSystemXml } from '../../src/forcefield/xml.js';
import { framesToBatch, loadReference, SHARED_DATA, skipUnless } from './helpers.js';

const ENERGY_TOL = 1e-3;
const FORCE_TOL = 1e-2;

for (const mol of ['aldp', 'al3']) {
  const xmlPath = `${SHARED_DATA}/${mol}/system.xml`;
  const refPath = `${SHARED_DATA}/${mol}/openmm_reference.json`;
  test(`${mol}: every frame matches OpenMM per force and in total`, { skip: skipUnless(refPath) || skipUnless(xmlPath) }, (t) => {
    const system = readSystemXml(xmlPath);
    const ref = loadReference(refPath);
    assert.equal(system.nParticles, ref.n_atoms);
    assert.equal(ref.frames.length, 220);
    const x = framesToBatch(ref.frames);
    const dim = system.dim;
    const terms = system.energyAndForcesByForce(x);
    const total = system.energyAndForces(x);
    assert.deepEqual(
      terms.map((term) => term.name).sort(),
      Object.keys(ref.frames[0].energy_by_force).sort(),
      'one engine force per OpenMM force group',
    );
    for (const term of terms) {
      let worstE = 0;
      let worstF = 0;
      ref.frames.forEach((frame, c) => {
        const dE = Math.abs(term.energy[c] - frame.energy_by_force[term.name]);
        assert.ok(dE <= ENERGY_TOL, `${term.name} frame ${frame.id}: energy ${term.energy[c]} vs OpenMM ${frame.energy_by_force[term.name]}`);
        worstE = Math.max(worstE, dE);
        const rf = frame.forces_by_force[term.name].flat();
        for (let k = 0; k < dim; k++) {
          const dF = Math.abs(term.forces[c * dim + k] - rf[k]);
          assert.ok(dF <= FORCE_TOL, `${term.name} frame ${frame.id} component ${k}: force ${term.forces[c * dim + k]} vs OpenMM ${rf[k]}`);
          worstF = Math.max(worstF, dF);
        }
      });
      t.diagnostic(`${mol} ${term.name}: worst |ΔE| = ${worstE.toExponential(2)} kJ/mol, worst |ΔF| = ${worstF.toExponential(2)} kJ/mol/nm`);
    }
    let worstE = 0;
    let worstF = 0;
    ref.frames.forEach((frame, c) => {
      const dE = Math.abs(total.energy[c] - frame.energy_total);
      assert.ok(dE <= ENERGY_TOL, `total energy, frame ${frame.id}: ${total.energy[c]} vs OpenMM ${frame.energy_total}`);
      worstE = Math.max(worstE, dE);
      const rf = frame.forces.flat();
      for (let k = 0; k < dim; k++) {
        const dF = Math.abs(total.forces[c * dim + k] - rf[k]);
        assert.ok(dF <= FORCE_TOL, `total force, frame ${frame.id} component ${k}: ${total.forces[c * dim + k]} vs OpenMM ${rf[k]}`);
        worstF = Math.max(worstF, dF);
      }
    });
    t.diagnostic(`${mol} total: worst |ΔE| = ${worstE.toExponential(2)} kJ/mol, worst |ΔF| = ${worstF.toExponential(2)} kJ/mol/nm over ${ref.frames.length} frames`);
  });
}
