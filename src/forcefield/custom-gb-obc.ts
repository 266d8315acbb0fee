import { UserError } from '../core/errors.js';
import type { GBSAOBCOptions, GBSAOBCParticle } from './gbsa-obc.js';
import { attr, children, intAttr, numAttr, optionalChild, parseNumber, requireEmpty, type XmlNode } from './xml-node.js';

/**
 * Recognises the CustomGBForce that OpenMM's implicit/obc1.xml and obc2.xml scripts build
 * (openmm.app.internal.customgbforces.GBSAOBC1Force / GBSAOBC2Force with kappa = 0) and
 * maps it to the native GB-OBC parameters. Expressions are compared with whitespace
 * removed; the numeric constants (α, β, γ, Coulomb constant, dielectrics, offset, ACE
 * factor, probe radius, 1/r_c) are read from them. Anything else is rejected.
 */

const NUM = String.raw`(\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)`;

/** CustomGBForce computation types. */
const SINGLE_PARTICLE = 0;
const PAIR_NO_EXCLUSIONS = 2;

const DESCREENING_I =
  'select(step(r+sr2-or1),0.5*(1/L-1/U+0.25*(r-sr2^2/r)*(1/(U^2)-1/(L^2))+0.5*log(L/U)/r),0);U=r+sr2;L=max(or1,D);D=abs(r-sr2)';
const BORN_B = new RegExp(
  String.raw`^1/\(1/or-tanh\((?:${NUM}\*)?psi(?:-${NUM}\*psi\^2)?\+${NUM}\*psi\^3\)/radius\);psi=I\*or;radius=or\+offset;offset=${NUM}$`,
);
const SELF_TERM = new RegExp(String.raw`^-0\.5\*${NUM}\*\(1/soluteDielectric-1/solventDielectric\)\*charge\^2/B$`);
const ACE_TERM = new RegExp(String.raw`^${NUM}\*\(radius\+${NUM}\)\^2\*\(radius/B\)\^6$`);
const PAIR_TERM = new RegExp(String.raw`^-${NUM}\*\(1/soluteDielectric-1/solventDielectric\)\*charge1\*charge2(?:/f|\*\(1/f-${NUM}\))$`);
const PAIR_F = 'sqrt(r^2+B1*B2*exp(-r^2/(4*B1*B2)))';

export interface CustomGbObc {
  particles: GBSAOBCParticle[];
  options: GBSAOBCOptions;
}

/** Splits "main; a=1; b=x+y" (whitespace removed) into the main expression and its definitions. */
function splitExpression(expression: string): { main: string; defs: Map<string, string> } {
  const [main, ...rest] = expression.replace(/\s+/g, '').split(';');
  const defs = new Map<string, string>();
  for (const d of rest) {
    if (d === '') continue;
    const eq = d.indexOf('=');
    if (eq <= 0) throw new UserError(`malformed definition '${d}'`);
    defs.set(d.slice(0, eq), d.slice(eq + 1));
  }
  return { main, defs };
}

function sameNumber(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(a), Math.abs(b));
}

/** Parses a CustomGBForce element (OpenMM XmlSerializer) that implements GB-OBC with kappa = 0. */
export function parseCustomGbObc(node: XmlNode, where: string, name: string): CustomGbObc {
  const unknown = (detail: string): UserError =>
    new UserError(
      `${where}: this CustomGBForce is not one of the supported forms (OpenMM implicit/obc1.xml or obc2.xml GB-OBC with ACE term, kappa = 0): ${detail}`,
    );
  requireEmpty(node, 'GlobalParameters', where, 'global parameters');
  requireEmpty(node, 'EnergyParameterDerivatives', where, 'energy parameter derivatives');
  requireEmpty(node, 'Functions', where, 'tabulated functions');

  const paramNames = children(optionalChild(node, 'PerParticleParameters', where) ?? {}, 'Parameter').map((p) => attr(p, 'name', where));
  const col = (pname: string): number => {
    const c = paramNames.indexOf(pname);
    if (c < 0) throw unknown(`per-particle parameters are [${paramNames.join(', ')}], expected charge, or, sr`);
    return c;
  };
  if (paramNames.length !== 3) throw unknown(`per-particle parameters are [${paramNames.join(', ')}], expected charge, or, sr`);
  const cCharge = col('charge');
  const cOr = col('or');
  const cSr = col('sr');

  // Computed values: I (pair sum, no exclusions) then B (single particle).
  const values = children(optionalChild(node, 'ComputedValues', where) ?? {}, 'Value');
  if (values.length !== 2 || attr(values[0], 'name', where) !== 'I' || attr(values[1], 'name', where) !== 'B') {
    throw unknown(`computed values are [${values.map((v) => v.name).join(', ')}], expected I, B`);
  }
  const iExpr = attr(values[0], 'expression', where).replace(/\s+/g, '');
  if (intAttr(values[0], 'type', where) !== PAIR_NO_EXCLUSIONS || iExpr !== DESCREENING_I) {
    throw unknown(`descreening value I = '${values[0].expression}'`);
  }
  const bExpr = attr(values[1], 'expression', where);
  const bMatch = BORN_B.exec(bExpr.replace(/\s+/g, ''));
  if (intAttr(values[1], 'type', where) !== SINGLE_PARTICLE || bMatch === null) throw unknown(`Born radius B = '${bExpr}'`);
  const num = (s: string | undefined, fallback: number): number => (s === undefined ? fallback : parseNumber(s, `${where} expression constant`));
  const alpha = num(bMatch[1], 1);
  const beta = num(bMatch[2], 0);
  const gamma = num(bMatch[3], NaN);
  const offset = num(bMatch[4], NaN);

  // Energy terms: self (single particle), optional ACE (single particle), pair (no exclusions).
  const shared = new Map<string, number>();
  const readDefs = (defs: Map<string, string>, exprText: string): void => {
    for (const [k, v] of defs) {
      if (k === 'radius' && v === 'or+offset') continue;
      if (k === 'f' && v === PAIR_F) continue;
      if (!['solventDielectric', 'soluteDielectric', 'kappa', 'offset', 'cutoff'].includes(k)) throw unknown(`definition '${k}=${v}' in '${exprText}'`);
      const value = parseNumber(v, `${where} definition ${k}`);
      const prev = shared.get(k);
      if (prev !== undefined && !sameNumber(prev, value)) throw unknown(`'${k}' is ${prev} in one term and ${value} in another`);
      shared.set(k, value);
    }
  };
  let selfConstant: number | undefined;
  let pairConstant: number | undefined;
  let pairShift: number | undefined;
  let aceFactor = 0;
  let probeRadius = 0.14;
  let hasAce = false;
  for (const term of children(optionalChild(node, 'EnergyTerms', where) ?? {}, 'Term')) {
    const text = attr(term, 'expression', where);
    const type = intAttr(term, 'type', where);
    const { main, defs } = splitExpression(text);
    if (main.includes('kappa')) throw new UserError(`${where}: GB with salt screening (kappa > 0) is not supported`);
    let m: RegExpExecArray | null;
    if (type === SINGLE_PARTICLE && selfConstant === undefined && (m = SELF_TERM.exec(main)) !== null) {
      selfConstant = num(m[1], NaN);
    } else if (type === SINGLE_PARTICLE && !hasAce && (m = ACE_TERM.exec(main)) !== null && defs.get('radius') === 'or+offset') {
      hasAce = true;
      aceFactor = num(m[1], NaN);
      probeRadius = num(m[2], NaN);
    } else if (type === PAIR_NO_EXCLUSIONS && pairConstant === undefined && (m = PAIR_TERM.exec(main)) !== null && defs.get('f') === PAIR_F) {
      pairConstant = num(m[1], NaN);
      pairShift = m[2] === undefined ? 0 : num(m[2], NaN);
    } else {
      throw unknown(`energy term (type ${type}) '${text}'`);
    }
    readDefs(defs, text);
  }
  if (selfConstant === undefined || pairConstant === undefined || pairShift === undefined) {
    throw unknown('it needs a self-energy term and a pair term');
  }
  if (!sameNumber(selfConstant, pairConstant)) throw unknown(`Coulomb constants differ: ${selfConstant} (self) and ${pairConstant} (pair)`);
  if ((shared.get('kappa') ?? 0) !== 0) throw new UserError(`${where}: GB with salt screening (kappa > 0) is not supported`);
  const termOffset = shared.get('offset');
  if (termOffset !== undefined && !sameNumber(termOffset, offset)) throw unknown(`offset ${termOffset} in the energy differs from ${offset} in B`);
  const soluteDielectric = shared.get('soluteDielectric');
  const solventDielectric = shared.get('solventDielectric');
  if (soluteDielectric === undefined || solventDielectric === undefined) throw unknown('solute/solvent dielectrics are not defined');

  const method = intAttr(node, 'method', where);
  let cutoff: number | null;
  if (method === 0) {
    if (pairShift !== 0) throw unknown(`the pair term is shifted by ${pairShift} but the method is NoCutoff`);
    cutoff = null;
  } else if (method === 1) {
    cutoff = numAttr(node, 'cutoff', where);
    if (!sameNumber(pairShift, 1 / cutoff)) throw unknown(`the pair term's shift ${pairShift} is not 1/cutoff = ${1 / cutoff}`);
  } else {
    throw new UserError(`${where}: CustomGBForce method ${method} (periodic) is not supported; supported: 0 (NoCutoff), 1 (CutoffNonPeriodic)`);
  }

  const particles = children(optionalChild(node, 'Particles', where) ?? {}, 'Particle').map((p, i) => {
    const v = (c: number): number => numAttr(p, `param${c + 1}`, `${where} particle ${i}`);
    return { charge: v(cCharge), offsetRadius: v(cOr), scaledRadius: v(cSr) };
  });
  return {
    particles,
    options: {
      alpha,
      beta,
      gamma,
      soluteDielectric,
      solventDielectric,
      coulombConstant: selfConstant,
      surfaceAreaFactor: hasAce ? aceFactor : 0,
      probeRadius,
      dielectricOffset: offset,
      cutoff,
      engulfmentCorrection: false,
      name,
    },
  };
}
