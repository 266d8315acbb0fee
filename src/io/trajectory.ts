/**
 * Multi-frame trajectory files for visualisation and for Python tools
 * (mdtraj, MDAnalysis, VMD, ASE), and a minimal PDB reader.
 *
 * Frames are row-major [nFrames, nAtoms·3] (atom-major x0, y0, z0, x1, …), in
 * any length unit; `lengthScale` multiplies every coordinate on the way out
 * (10 for nm → Å). PDB coordinates are always Å; XYZ has no unit, and the
 * scaled numbers are written as they are.
 */
import { readFileSync } from 'node:fs';
import { UserError } from '../core/errors.js';
import { writeFileAtomic } from '../core/atomic.js';

/** Per-atom labels for the writers; every field is optional. */
export interface AtomLabels {
  /** Element symbols, e.g. 'C', 'H', 'Ar'. Default 'Ar' (a generic LJ particle). */
  elements?: readonly string[];
  /** PDB atom names (at most 4 characters). Default: the element in upper case. */
  names?: readonly string[];
  /** PDB residue names (at most 3 characters). Default 'UNK'. */
  resNames?: readonly string[];
  /** PDB residue numbers. Default 1 for every atom. */
  resSeqs?: readonly number[];
}

export interface TrajectoryOptions extends AtomLabels {
  /** Multiplier applied to every coordinate (10 for nm → Å). Default 1. */
  lengthScale?: number;
  /** XYZ only: one comment line per frame (no newlines). Default "frame k". */
  comments?: readonly string[];
}

const DEFAULT_ELEMENT = 'Ar';

/** Number of frames in `coords`, checking it holds whole frames of nAtoms atoms. */
function frameCount(coords: ArrayLike<number>, nAtoms: number): number {
  if (!Number.isSafeInteger(nAtoms) || nAtoms < 1) throw new UserError(`nAtoms must be a positive integer, got ${nAtoms}`);
  const per = 3 * nAtoms;
  if (coords.length === 0 || coords.length % per !== 0) {
    throw new UserError(`trajectory has ${coords.length} coordinates; expected [nFrames, ${per}] for ${nAtoms} atoms (a positive multiple of ${per})`);
  }
  return coords.length / per;
}

function checkLabels(labels: AtomLabels, nAtoms: number): void {
  for (const key of ['elements', 'names', 'resNames', 'resSeqs'] as const) {
    const v = labels[key];
    if (v !== undefined && v.length !== nAtoms) throw new UserError(`trajectory ${key} has ${v.length} entries; expected ${nAtoms} (one per atom)`);
  }
  labels.elements?.forEach((e, i) => {
    if (!/^[A-Za-z]{1,2}$/.test(e)) throw new UserError(`element ${JSON.stringify(e)} of atom ${i} is not a 1–2 letter symbol`);
  });
  labels.names?.forEach((s, i) => {
    if (s.length < 1 || s.length > 4 || /\s/.test(s)) throw new UserError(`atom name ${JSON.stringify(s)} of atom ${i} must be 1–4 characters without spaces`);
  });
  labels.resNames?.forEach((s, i) => {
    if (s.length < 1 || s.length > 3 || /\s/.test(s)) throw new UserError(`residue name ${JSON.stringify(s)} of atom ${i} must be 1–3 characters without spaces`);
  });
  labels.resSeqs?.forEach((r, i) => {
    if (!Number.isInteger(r) || r < -999 || r > 9999) throw new UserError(`residue number ${r} of atom ${i} must be an integer in [-999, 9999]`);
  });
}

function checkScale(lengthScale: number): void {
  if (!(Number.isFinite(lengthScale) && lengthScale > 0)) throw new UserError(`lengthScale must be a positive finite number, got ${lengthScale}`);
}

function checkFinite(coords: ArrayLike<number>, nAtoms: number): void {
  for (let i = 0; i < coords.length; i++) {
    if (!Number.isFinite(coords[i])) {
      const frame = Math.floor(i / (3 * nAtoms));
      throw new UserError(`trajectory coordinate of frame ${frame}, atom ${Math.floor(i / 3) % nAtoms} is ${coords[i]}; only finite values can be written`);
    }
  }
}

/**
 * XYZ text: per frame a line with the atom count, a comment line, then one
 * line `El x y z` per atom (6 decimals, after multiplying by lengthScale).
 */
export function formatXyz(coords: ArrayLike<number>, nAtoms: number, opts: TrajectoryOptions = {}): string {
  const nFrames = frameCount(coords, nAtoms);
  const { lengthScale = 1, comments } = opts;
  checkScale(lengthScale);
  checkLabels(opts, nAtoms);
  checkFinite(coords, nAtoms);
  if (comments !== undefined) {
    if (comments.length !== nFrames) throw new UserError(`XYZ comments has ${comments.length} entries; expected ${nFrames} (one per frame)`);
    comments.forEach((c, k) => {
      if (/[\r\n]/.test(c)) throw new UserError(`XYZ comment of frame ${k} contains a line break`);
    });
  }
  const lines: string[] = [];
  for (let f = 0; f < nFrames; f++) {
    lines.push(String(nAtoms), comments ? comments[f] : `frame ${f}`);
    for (let a = 0; a < nAtoms; a++) {
      const o = (f * nAtoms + a) * 3;
      const el = opts.elements ? opts.elements[a] : DEFAULT_ELEMENT;
      const xyz = [0, 1, 2].map((d) => (coords[o + d] * lengthScale).toFixed(6));
      lines.push(`${el} ${xyz.join(' ')}`);
    }
  }
  return lines.join('\n') + '\n';
}

/** Writes an XYZ trajectory atomically; see `formatXyz`. */
export function writeXyz(path: string, coords: ArrayLike<number>, nAtoms: number, opts: TrajectoryOptions = {}): void {
  writeFileAtomic(path, formatXyz(coords, nAtoms, opts));
}

/** Element symbol with the first letter upper case and the second lower case ('AR' → 'Ar'). */
function normaliseElement(e: string): string {
  return e.charAt(0).toUpperCase() + e.slice(1).toLowerCase();
}

/**
 * Columns 13–16 of an ATOM record. By convention a name whose element has one
 * letter starts in column 14 unless it fills all four columns (" CA ",
 * "HH31"); two-letter elements start in column 13 ("AR  ").
 */
function pdbAtomName(name: string, element: string): string {
  return name.length < 4 && element.length === 1 ? ` ${name}`.padEnd(4) : name.padEnd(4);
}

function fixed(v: number, width: number, decimals: number, what: string): string {
  const s = v.toFixed(decimals).padStart(width);
  if (s.length > width) throw new UserError(`${what} ${v} does not fit the PDB column width ${width} (${decimals} decimals); coordinates must lie in (-1000, 10000) Å`);
  return s;
}

/**
 * PDB text with one MODEL … ENDMDL block per frame and an END record.
 * ATOM records follow the PDB 3.3 fixed columns: serial 7–11, name 13–16,
 * resName 18–20, chain 22 ('A'), resSeq 23–26, x/y/z 31–54 (%8.3f, Å),
 * occupancy 55–60 (1.00), B-factor 61–66 (0.00), element 77–78 (upper case).
 * Coordinates are multiplied by `lengthScale` and must then be in Å.
 */
export function formatPdb(coords: ArrayLike<number>, nAtoms: number, opts: TrajectoryOptions = {}): string {
  const nFrames = frameCount(coords, nAtoms);
  const { lengthScale = 1 } = opts;
  checkScale(lengthScale);
  checkLabels(opts, nAtoms);
  checkFinite(coords, nAtoms);
  if (nFrames > 9999) throw new UserError(`PDB MODEL numbers have 4 digits; ${nFrames} frames exceed 9999 (write XYZ or .npy instead)`);
  if (nAtoms > 99999) throw new UserError(`PDB atom serials have 5 digits; ${nAtoms} atoms exceed 99999`);
  const prefixes: string[] = [];
  const elementCols: string[] = [];
  for (let a = 0; a < nAtoms; a++) {
    const element = opts.elements ? normaliseElement(opts.elements[a]) : DEFAULT_ELEMENT;
    const name = opts.names ? opts.names[a] : element.toUpperCase();
    const resName = opts.resNames ? opts.resNames[a] : 'UNK';
    const resSeq = opts.resSeqs ? opts.resSeqs[a] : 1;
    prefixes.push(`ATOM  ${String(a + 1).padStart(5)} ${pdbAtomName(name, element)} ${resName.padStart(3)} A${String(resSeq).padStart(4)}    `);
    elementCols.push(element.toUpperCase().padStart(2));
  }
  const lines: string[] = [];
  for (let f = 0; f < nFrames; f++) {
    lines.push(`MODEL     ${String(f + 1).padStart(4)}`);
    for (let a = 0; a < nAtoms; a++) {
      const o = (f * nAtoms + a) * 3;
      const xyz = [0, 1, 2].map((d) => fixed(coords[o + d] * lengthScale, 8, 3, `frame ${f} atom ${a} coordinate`)).join('');
      lines.push(`${prefixes[a]}${xyz}  1.00  0.00          ${elementCols[a]}`);
    }
    lines.push('ENDMDL');
  }
  lines.push('END');
  return lines.join('\n') + '\n';
}

/** Writes a multi-model PDB trajectory atomically; see `formatPdb`. */
export function writePdb(path: string, coords: ArrayLike<number>, nAtoms: number, opts: TrajectoryOptions = {}): void {
  writeFileAtomic(path, formatPdb(coords, nAtoms, opts));
}

// ---------------------------------------------------------------------------
// Reader

/** One ATOM/HETATM record of a PDB file. */
export interface PdbAtom {
  name: string;
  resName: string;
  resSeq: number;
  chainId: string;
  /** From columns 77–78, or inferred from the atom name when those are blank (see `inferElement`). */
  element: string;
  hetero: boolean;
}

export interface PdbStructure {
  atoms: PdbAtom[];
  /** One flat [nAtoms·3] coordinate array per model, multiplied by `lengthScale`. */
  models: Float64Array[];
}

export interface PdbReadOptions {
  /** Read every MODEL (each must list the same atoms); default: the first model only. */
  allModels?: boolean;
  /** Multiplier applied to the Å coordinates (0.1 for Å → nm). Default 1. */
  lengthScale?: number;
}

const TWO_LETTER_ELEMENTS = new Set(['CL', 'BR', 'FE', 'ZN', 'MG', 'NA', 'CA', 'AR', 'MN', 'CU', 'CO', 'NI', 'SE', 'LI', 'NE', 'KR', 'XE']);

/**
 * Element from the raw 4-character name field when columns 77–78 are blank.
 * A name starting in column 14 (or with a leading digit, "1HB ") has a
 * one-letter element: its first letter. A name starting in column 13 is a
 * two-letter element when its first two letters are one ("CL", "CA  " =
 * calcium), except for 4-character hydrogen names like "HH31" or "HG11",
 * which are hydrogens; otherwise its first letter.
 */
export function inferElement(nameField: string): string {
  const field = nameField.padEnd(4);
  const letters = field.replace(/[^A-Za-z]/g, '').toUpperCase();
  if (letters.length === 0) throw new UserError(`cannot infer an element from atom name ${JSON.stringify(nameField)}`);
  const startsInCol13 = /[A-Za-z]/.test(field[0]);
  if (startsInCol13 && !(field[0].toUpperCase() === 'H' && field.trim().length === 4) && TWO_LETTER_ELEMENTS.has(letters.slice(0, 2))) {
    return normaliseElement(letters.slice(0, 2));
  }
  return letters[0];
}

/** Parses PDB text; `source` names the origin in error messages. */
export function parsePdb(text: string, source = '<pdb text>', opts: PdbReadOptions = {}): PdbStructure {
  const { allModels = false, lengthScale = 1 } = opts;
  checkScale(lengthScale);
  const atoms: PdbAtom[] = [];
  const models: Float64Array[] = [];
  let current: number[] = [];
  let lineNo = 0;

  const finishModel = (): boolean => {
    if (current.length === 0) return false;
    if (models.length > 0 && current.length !== 3 * atoms.length) {
      throw new UserError(`${source}: model ${models.length + 1} has ${current.length / 3} atoms; model 1 has ${atoms.length}`);
    }
    models.push(Float64Array.from(current, (v) => v * lengthScale));
    current = [];
    return !allModels;
  };

  for (const line of text.split(/\r?\n/)) {
    lineNo++;
    const record = line.slice(0, 6).trimEnd();
    if (record === 'ENDMDL' || record === 'END') {
      if (finishModel()) break;
      continue;
    }
    if (record !== 'ATOM' && record !== 'HETATM') continue;
    const coord = (from: number, to: number, what: string): number => {
      const field = line.slice(from, to).trim();
      const v = Number(field);
      if (field === '' || !Number.isFinite(v)) throw new UserError(`${source} line ${lineNo}: ${what} ${JSON.stringify(field)} (columns ${from + 1}–${to}) is not a number`);
      return v;
    };
    current.push(coord(30, 38, 'x'), coord(38, 46, 'y'), coord(46, 54, 'z'));
    if (models.length === 0) {
      const nameField = line.slice(12, 16);
      const elementField = line.slice(76, 78).replace(/[^A-Za-z]/g, '');
      const resSeqField = line.slice(22, 26).trim();
      const resSeq = Number(resSeqField);
      if (resSeqField === '' || !Number.isInteger(resSeq)) throw new UserError(`${source} line ${lineNo}: residue number ${JSON.stringify(resSeqField)} (columns 23–26) is not an integer`);
      atoms.push({
        name: nameField.trim(),
        resName: line.slice(17, 20).trim(),
        resSeq,
        chainId: line.slice(21, 22).trim(),
        element: elementField ? normaliseElement(elementField) : inferElement(nameField),
        hetero: record === 'HETATM',
      });
    }
  }
  finishModel(); // a last model without ENDMDL/END (a no-op after an early stop)
  if (atoms.length === 0) throw new UserError(`${source} contains no ATOM or HETATM records`);
  return { atoms, models };
}

/** Reads a PDB file; see `parsePdb`. */
export function readPdb(path: string, opts: PdbReadOptions = {}): PdbStructure {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read ${path}: ${(err as Error).message}`);
  }
  return parsePdb(text, path, opts);
}
