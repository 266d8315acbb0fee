import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { UserError } from '../../src/core/errors.js';
import { ONE_4PI_EPS0 } from '../../src/forcefield/constants.js';
import { GBSAOBCForce } from '../../src/forcefield/gbsa-obc.js';
import { NonbondedForce } from '../../src/forcefield/nonbonded.js';
import { parseSystemXml, readSystemXml } from '../../src/forcefield/xml.js';

/** A two-particle System XML in XmlSerializer's layout, with `forces` inside <Forces>. */
function systemXml(forces: string, extra = '<Constraints/>'): string {
  return `<?xml version="1.0" ?>
<System openmmVersion="7.7" type="System" version="1">
  <PeriodicBoxVectors><A x="2" y="0" z="0"/><B x="0" y="2" z="0"/><C x="0" y="0" z="2"/></PeriodicBoxVectors>
  <Particles><Particle mass="12.01"/><Particle mass="1.008"/></Particles>
  ${extra}
  <Forces>${forces}</Forces>
</System>`;
}
const BOND = '<Force forceGroup="0" name="HarmonicBondForce" type="HarmonicBondForce" usesPeriodic="0" version="2"><Bonds><Bond d=".109" k="284512" p1="0" p2="1"/></Bonds></Force>';
const nonbonded = (method: number) =>
  `<Force cutoff="1.2" method="${method}" name="NonbondedForce" rfDielectric="1" type="NonbondedForce" useSwitchingFunction="0" version="4"><GlobalParameters/><ParticleOffsets/><ExceptionOffsets/><Particles><Particle eps=".4" q=".5" sig=".3"/><Particle eps=".06" q="-.5" sig=".25"/></Particles><Exceptions/></Force>`;

function rejects(text: string, ...fragments: (string | RegExp)[]): void {
  assert.throws(
    () => parseSystemXml(text),
    (e: unknown) => {
      assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
      for (const f of fragments) {
        if (typeof f === 'string') assert.ok(e.message.includes(f), `message '${e.message}' should mention '${f}'`);
        else assert.match(e.message, f);
      }
      return true;
    },
  );
}

test('a supported minimal system parses, with its masses and a bond energy of ½k(r − r0)²', () => {
  const sys = parseSystemXml(systemXml(BOND));
  assert.deepEqual(Array.from(sys.masses), [12.01, 1.008]);
  assert.deepEqual(sys.forceNames, ['HarmonicBondForce']);
  const e = sys.energy(Float64Array.from([0, 0, 0, 0.12, 0, 0]));
  assert.ok(Math.abs(e[0] - 0.5 * 284512 * 0.011 ** 2) < 1e-9);
});

test('an unsupported force type is rejected by name, listing the supported ones', () => {
  const custom = '<Force energy="r" forceGroup="0" name="CustomBondForce" type="CustomBondForce" usesPeriodic="0" version="3"><PerBondParameters/><GlobalParameters/><EnergyParameterDerivatives/><Bonds><Bond p1="0" p2="1"/></Bonds></Force>';
  rejects(systemXml(BOND + custom), "unsupported force type 'CustomBondForce'", 'force 1', 'supported: HarmonicBondForce', 'CMMotionRemover', 'GBSAOBCForce');
});

test('periodic and other unsupported settings are rejected with the reason', () => {
  rejects(systemXml(nonbonded(4)), 'nonbonded method 4 (PME) is not supported', 'NoCutoff');
  rejects(systemXml(nonbonded(2)), 'CutoffPeriodic');
  rejects(systemXml(BOND.replace('usesPeriodic="0"', 'usesPeriodic="1"')), 'periodic boundary conditions');
  rejects(systemXml(nonbonded(1).replace('useSwitchingFunction="0"', 'useSwitchingFunction="1"')), 'switching function');
  rejects(systemXml(BOND, '<Constraints><Constraint d=".1" p1="0" p2="1"/></Constraints>'), 'constraints');
  rejects(systemXml(nonbonded(0).replace('<GlobalParameters/>', '<GlobalParameters><Parameter default="1" name="lambda"/></GlobalParameters>')), 'global parameters');
});

test('malformed, incomplete or inconsistent XML gives a clear error', () => {
  rejects('<System><Particles></System>', /malformed XML at line 1/);
  rejects('<Foo/>', 'not an OpenMM System XML');
  rejects(systemXml(BOND.replace(' k="284512"', '')), "bond 0: missing attribute 'k'");
  rejects(systemXml(BOND.replace('k="284512"', 'k="stiff"')), "attribute 'k'", "'stiff'");
  rejects(systemXml(BOND.replace('p2="1"', 'p2="5"')), 'refers to particle 5', 'has 2 particles');
  rejects(systemXml(nonbonded(0).replace('<Particle eps=".06" q="-.5" sig=".25"/>', '')), 'NonbondedForce has parameters for 1 particles, but the system has 2');
  assert.throws(() => readSystemXml('/nonexistent/system.xml'), /cannot read OpenMM system XML '\/nonexistent\/system.xml'/);
});

test('NonbondedForce attributes: method, cutoff and reaction-field dielectric are honoured', () => {
  const cut = parseSystemXml(systemXml(nonbonded(1).replace('rfDielectric="1"', 'rfDielectric="78.5"'))).forces[0];
  assert.ok(cut instanceof NonbondedForce);
  assert.equal(cut.method, 'CutoffNonPeriodic');
  assert.equal(cut.cutoff, 1.2);
  assert.equal(cut.reactionFieldDielectric, 78.5);
  const none = parseSystemXml(systemXml(nonbonded(0))).forces[0];
  assert.ok(none instanceof NonbondedForce);
  assert.equal(none.method, 'NoCutoff');
  assert.equal(none.cutoff, Infinity);
});

interface Fixture {
  cases: { name: string; xml: string }[];
}
const fixture = JSON.parse(readFileSync(new URL('./fixtures/openmm-small-systems.json', import.meta.url), 'utf8')) as Fixture;
const xmlOf = (name: string): string => {
  const c = fixture.cases.find((k) => k.name === name);
  assert.ok(c, name);
  return c.xml;
};
const gbOf = (xml: string): GBSAOBCForce => {
  const f = parseSystemXml(xml).forces.find((k) => k instanceof GBSAOBCForce);
  assert.ok(f instanceof GBSAOBCForce);
  return f;
};

test('CustomGBForce from implicit/obc1.xml and obc2.xml maps to GB-OBC with the constants of its expressions', () => {
  const obc1 = gbOf(xmlOf('custom-obc1-cutoff'));
  assert.equal(obc1.name, 'CustomGBForce');
  assert.deepEqual(
    { ...obc1.options },
    {
      alpha: 0.8,
      beta: 0,
      gamma: 2.909125,
      soluteDielectric: 1,
      solventDielectric: 78.5,
      coulombConstant: 138.935485,
      surfaceAreaFactor: 28.3919551,
      probeRadius: 0.14,
      dielectricOffset: 0.009,
      cutoff: 0.9,
      engulfmentCorrection: false,
      name: 'CustomGBForce',
    },
  );
  const obc2 = gbOf(xmlOf('custom-obc2-nocutoff'));
  assert.deepEqual([obc2.options.alpha, obc2.options.beta, obc2.options.gamma, obc2.options.cutoff], [1, 0.8, 4.85, null]);
  assert.equal(obc2.particles[0].offsetRadius, 0.17 - 0.009);
});

test('native GBSAOBCForce uses OBC2, ONE_4PI_EPS0, 4π·surfaceAreaEnergy and the engulfment correction', () => {
  const gb = gbOf(xmlOf('cutoff-rf-native-obc2'));
  assert.equal(gb.name, 'GBSAOBCForce');
  assert.deepEqual([gb.options.alpha, gb.options.beta, gb.options.gamma], [1, 0.8, 4.85]);
  assert.equal(gb.options.coulombConstant, ONE_4PI_EPS0);
  assert.ok(Math.abs(gb.options.surfaceAreaFactor - 28.3919551) < 1e-6);
  assert.equal(gb.options.cutoff, 0.9);
  assert.equal(gb.options.engulfmentCorrection, true);
});

test('a CustomGBForce that is not one of the OBC scripts is rejected', () => {
  const xml = xmlOf('custom-obc1-cutoff');
  rejects(xml.replace('0.5*log(L/U)/r', '0.4*log(L/U)/r'), 'CustomGBForce is not one of the supported forms', 'descreening value I');
  rejects(xml.replace('tanh(0.8*psi', 'sinh(0.8*psi'), 'Born radius B');
  rejects(xml.replace('28.3919551*(radius+0.14)^2*(radius/B)^6', '28.3919551*(radius+0.14)^2*(radius/B)^4'), 'energy term (type 0)');
  rejects(xml.replace('name="sr"', 'name="scale"'), 'per-particle parameters are [charge, or, scale]');
  rejects(xml.replace('*(1/f-1.1111111111111112)', '*(1/f-0.5)'), "pair term's shift 0.5 is not 1/cutoff");
  rejects(
    xml.replace('-0.5*138.935485*(1/soluteDielectric-1/solventDielectric)*charge^2/B', '-0.5*138.935485*(1/soluteDielectric-exp(-kappa*B)/solventDielectric)*charge^2/B'),
    'salt screening (kappa > 0)',
  );
});
