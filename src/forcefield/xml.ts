import { readFileSync } from 'node:fs';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { UserError } from '../core/errors.js';
import { HarmonicAngleForce } from './angle.js';
import { HarmonicBondForce } from './bond.js';
import { CMMotionRemover } from './cm-motion-remover.js';
import { ONE_4PI_EPS0 } from './constants.js';
import { parseCustomGbObc } from './custom-gb-obc.js';
import type { Force } from './force.js';
import { GBSAOBCForce, OBC2 } from './gbsa-obc.js';
import { NonbondedForce, type NonbondedMethod } from './nonbonded.js';
import { System } from './system.js';
import { PeriodicTorsionForce } from './torsion.js';
import {
  attr,
  children,
  childTags,
  intAttr,
  numAttr,
  optionalAttr,
  optionalChild,
  optionalNumAttr,
  requireEmpty,
  type XmlNode,
} from './xml-node.js';

/** Force types (OpenMM class names) that readSystemXml understands. */
export const SUPPORTED_FORCE_TYPES = [
  'HarmonicBondForce',
  'HarmonicAngleForce',
  'PeriodicTorsionForce',
  'NonbondedForce',
  'GBSAOBCForce',
  'CustomGBForce (GB-OBC from implicit/obc1.xml or obc2.xml)',
  'CMMotionRemover',
] as const;

/** OpenMM's dielectric offset of the native GBSAOBCForce (nm). */
const GBSA_DIELECTRIC_OFFSET = 0.009;

/** Reads an OpenMM System XML file (XmlSerializer.serialize output). */
export function readSystemXml(path: string): System {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read OpenMM system XML '${path}': ${(e as Error).message}`);
  }
  return parseSystemXml(text, path);
}

/**
 * Builds a System from the text of an OpenMM System XML. Supports the force types in
 * SUPPORTED_FORCE_TYPES with non-periodic methods; anything else is a UserError naming it.
 */
export function parseSystemXml(text: string, source = 'OpenMM system XML'): System {
  if (typeof text !== 'string') throw new UserError(`${source}: expected XML text, got ${typeof text}`);
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new UserError(`${source}: malformed XML at line ${valid.err.line}, column ${valid.err.col}: ${valid.err.msg}`);
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '',
    parseAttributeValue: false,
    parseTagValue: false,
    isArray: (_tag: string, _path: unknown, _leaf: boolean, isAttribute: boolean) => !isAttribute,
  });
  let doc: XmlNode;
  try {
    doc = parser.parse(text) as XmlNode;
  } catch (e) {
    // e.g. a DOCTYPE with external entities, which the parser refuses to resolve.
    throw new UserError(`${source}: unsupported XML: ${(e as Error).message}`);
  }
  const systems = children(doc, 'System');
  if (systems.length !== 1) throw new UserError(`${source}: not an OpenMM System XML (no single <System> root element)`);
  const sys = systems[0];

  const particles = children(optionalChild(sys, 'Particles', source) ?? {}, 'Particle');
  if (particles.length === 0) throw new UserError(`${source}: the System has no particles`);
  const masses = particles.map((p, i) => {
    const where = `${source} particle ${i}`;
    if (childTags(p).length > 0) throw new UserError(`${where}: virtual sites are not supported`);
    return numAttr(p, 'mass', where);
  });
  requireEmpty(sys, 'Constraints', source, 'constraints');

  const forces = children(optionalChild(sys, 'Forces', source) ?? {}, 'Force').map((f, i) => parseForce(f, `${source} force ${i}`));
  return new System(masses, forces);
}

function parseForce(node: XmlNode, at: string): Force {
  const type = attr(node, 'type', at);
  const name = optionalAttr(node, 'name', type);
  const where = `${at} (${type}${name === type ? '' : ` '${name}'`})`;
  if (optionalAttr(node, 'usesPeriodic', '0') !== '0') throw new UserError(`${where}: periodic boundary conditions are not supported`);
  switch (type) {
    case 'HarmonicBondForce':
      return new HarmonicBondForce(
        list(node, 'Bonds', 'Bond', where).map((b, i) => {
          const w = `${where} bond ${i}`;
          return { p1: intAttr(b, 'p1', w), p2: intAttr(b, 'p2', w), length: numAttr(b, 'd', w), k: numAttr(b, 'k', w) };
        }),
        name,
      );
    case 'HarmonicAngleForce':
      return new HarmonicAngleForce(
        list(node, 'Angles', 'Angle', where).map((a, i) => {
          const w = `${where} angle ${i}`;
          return { p1: intAttr(a, 'p1', w), p2: intAttr(a, 'p2', w), p3: intAttr(a, 'p3', w), angle: numAttr(a, 'a', w), k: numAttr(a, 'k', w) };
        }),
        name,
      );
    case 'PeriodicTorsionForce':
      return new PeriodicTorsionForce(
        list(node, 'Torsions', 'Torsion', where).map((t, i) => {
          const w = `${where} torsion ${i}`;
          return {
            p1: intAttr(t, 'p1', w),
            p2: intAttr(t, 'p2', w),
            p3: intAttr(t, 'p3', w),
            p4: intAttr(t, 'p4', w),
            periodicity: intAttr(t, 'periodicity', w),
            phase: numAttr(t, 'phase', w),
            k: numAttr(t, 'k', w),
          };
        }),
        name,
      );
    case 'NonbondedForce':
      return parseNonbonded(node, where, name);
    case 'GBSAOBCForce':
      return parseGbsaObc(node, where, name);
    case 'CustomGBForce': {
      const { particles, options } = parseCustomGbObc(node, where, name);
      return new GBSAOBCForce(particles, options);
    }
    case 'CMMotionRemover':
      return new CMMotionRemover(optionalNumAttr(node, 'frequency', where, 1), name);
    default:
      throw new UserError(`${where}: unsupported force type '${type}'; supported: ${SUPPORTED_FORCE_TYPES.join(', ')}`);
  }
}

/** Child elements <item> of the list element <listTag>. */
function list(node: XmlNode, listTag: string, item: string, where: string): XmlNode[] {
  return children(optionalChild(node, listTag, where) ?? {}, item);
}

/** Non-periodic methods by OpenMM enum value; other values are named in the error. */
const NONBONDED_METHODS: Record<number, NonbondedMethod> = { 0: 'NoCutoff', 1: 'CutoffNonPeriodic' };
const UNSUPPORTED_NONBONDED: Record<number, string> = { 2: 'CutoffPeriodic', 3: 'Ewald', 4: 'PME', 5: 'LJPME' };

function parseNonbonded(node: XmlNode, where: string, name: string): NonbondedForce {
  const methodId = intAttr(node, 'method', where);
  const method = NONBONDED_METHODS[methodId];
  if (method === undefined) {
    throw new UserError(
      `${where}: nonbonded method ${methodId} (${UNSUPPORTED_NONBONDED[methodId] ?? 'unknown'}) is not supported; supported: 0 (NoCutoff), 1 (CutoffNonPeriodic)`,
    );
  }
  if (method === 'CutoffNonPeriodic' && optionalAttr(node, 'useSwitchingFunction', '0') !== '0') {
    throw new UserError(`${where}: the LJ switching function (useSwitchingFunction=1) is not supported`);
  }
  if (optionalAttr(node, 'includeDirectSpace', '1') !== '1') throw new UserError(`${where}: includeDirectSpace=0 is not supported`);
  requireEmpty(node, 'GlobalParameters', where, 'global parameters');
  requireEmpty(node, 'ParticleOffsets', where, 'particle parameter offsets');
  requireEmpty(node, 'ExceptionOffsets', where, 'exception parameter offsets');
  const particles = list(node, 'Particles', 'Particle', where).map((p, i) => {
    const w = `${where} particle ${i}`;
    return { charge: numAttr(p, 'q', w), sigma: numAttr(p, 'sig', w), epsilon: numAttr(p, 'eps', w) };
  });
  const exceptions = list(node, 'Exceptions', 'Exception', where).map((e, i) => {
    const w = `${where} exception ${i}`;
    return { p1: intAttr(e, 'p1', w), p2: intAttr(e, 'p2', w), chargeProd: numAttr(e, 'q', w), sigma: numAttr(e, 'sig', w), epsilon: numAttr(e, 'eps', w) };
  });
  return new NonbondedForce(particles, exceptions, {
    method,
    cutoff: method === 'CutoffNonPeriodic' ? numAttr(node, 'cutoff', where) : undefined,
    reactionFieldDielectric: method === 'CutoffNonPeriodic' ? numAttr(node, 'rfDielectric', where) : undefined,
    name,
  });
}

/** OpenMM's native GBSAOBCForce: OBC2 constants, ONE_4PI_EPS0, ACE with 4π × surfaceAreaEnergy. */
function parseGbsaObc(node: XmlNode, where: string, name: string): GBSAOBCForce {
  const methodId = intAttr(node, 'method', where);
  if (methodId !== 0 && methodId !== 1) {
    throw new UserError(`${where}: GBSAOBCForce method ${methodId} (periodic) is not supported; supported: 0 (NoCutoff), 1 (CutoffNonPeriodic)`);
  }
  const particles = list(node, 'Particles', 'Particle', where).map((p, i) => {
    const w = `${where} particle ${i}`;
    const offsetRadius = numAttr(p, 'r', w) - GBSA_DIELECTRIC_OFFSET;
    return { charge: numAttr(p, 'q', w), offsetRadius, scaledRadius: numAttr(p, 'scale', w) * offsetRadius };
  });
  return new GBSAOBCForce(particles, {
    ...OBC2,
    soluteDielectric: numAttr(node, 'soluteDielectric', where),
    solventDielectric: numAttr(node, 'solventDielectric', where),
    coulombConstant: ONE_4PI_EPS0,
    surfaceAreaFactor: 4 * Math.PI * numAttr(node, 'surfaceAreaEnergy', where),
    probeRadius: optionalNumAttr(node, 'probeRadius', where, 0.14),
    dielectricOffset: GBSA_DIELECTRIC_OFFSET,
    cutoff: methodId === 1 ? numAttr(node, 'cutoff', where) : null,
    engulfmentCorrection: true,
    name,
  });
}
