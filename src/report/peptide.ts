/**
 * The peptide parts of a report (aldp, al3): Ramachandran maps, the TICA
 * density and chirality rates.
 */
import { Rng } from '../core/rng.js';
import { chiralityReference, fixChirality, peptideChiralityCentres } from '../metrics/chirality.js';
import { PEPTIDE_DIHEDRALS, phiPsiPairs } from '../metrics/dihedrals.js';
import { fitPeptideTica, projectPeptideTica } from '../metrics/tica.js';
import { MoleculeTarget } from '../targets/molecule.js';
import type { Target } from '../targets/target.js';
import { heatmapFigure } from './figures.js';
import { densityHistogram2d, sharedRange, type Bin2d } from './histogram.js';
import { escapeHtml, fmt, table, type PageBuilder } from './html.js';
import type { ReferenceSet, SampleSet } from './samples.js';

/** Bins per axis of the plotted Ramachandran maps (10°; the Rama-KL metric itself uses 64). */
export const RAMA_BINS = 36;
/** Bins per axis of the TICA density maps. */
const TICA_BINS = 40;

/** A built-in peptide with backbone dihedrals defined (aldp, al3). */
export function isPeptide(target: Target): target is MoleculeTarget {
  return target instanceof MoleculeTarget && target.topology !== null && Object.hasOwn(PEPTIDE_DIHEDRALS, target.name);
}

/** Axes of every Ramachandran map: φ and ψ in degrees on [−180, 180]. */
export const ramaAxes = { x: 'φ (degrees)', y: 'ψ (degrees)', domain: { x: [-180, 180] as [number, number], y: [-180, 180] as [number, number] } };

/** Ramachandran density in degrees from (φ, ψ) radians [n, 2]. */
export function ramaBins(angles: Float64Array, n: number): Bin2d[] {
  const deg = Float64Array.from(angles, (a) => (a * 180) / Math.PI);
  return densityHistogram2d(deg, n, { x: [-180, 180], y: [-180, 180] }, RAMA_BINS);
}

/** Cell-wise a − r of two histograms on the same grid. */
function differenceBins(a: Bin2d[], r: Bin2d[]): Bin2d[] {
  return a.map((c, i) => ({ ...c, density: c.density - r[i].density }));
}

/** Ramachandran model vs reference vs difference, TICA densities and chirality rates (aldp, al3). */
export async function peptideSection(b: PageBuilder, target: MoleculeTarget, sets: SampleSet[], reference: ReferenceSet | null, K: number, T: readonly number[]): Promise<void> {
  b.h2(`Peptide metrics at T_K = ${T[K]}`);
  const final = sets[K];
  if (!final) b.notice('warn', `Incomplete: no samples at T_K yet, so the Ramachandran comparison and TICA density are left out.`);
  else if (!reference) b.notice('info', 'No reference: Ramachandran comparison and TICA density need reference samples.');
  else {
    const gen = phiPsiPairs(target.name, final.x, final.n);
    const ref = phiPsiPairs(target.name, reference.x, reference.n);
    for (let i = 0; i < gen.length; i++) {
      const g = ramaBins(gen[i].angles, final.n);
      const r = ramaBins(ref[i].angles, reference.n);
      b.figure(
        await heatmapFigure(
          `rama-${gen[i].residue}`,
          `Ramachandran, residue ${gen[i].residue}: model, reference and difference`,
          [
            { title: 'PITA samples', bins: g, kind: 'density' },
            { title: 'reference', bins: r, kind: 'density' },
            { title: 'samples − reference', bins: differenceBins(g, r), kind: 'difference' },
          ],
          ramaAxes,
          { caption: `Density per deg², ${RAMA_BINS}×${RAMA_BINS} bins; ${final.n} samples, ${reference.n} reference rows.`, key: true },
        ),
      );
    }
    const elements = target.topology!.elements;
    const tica = fitPeptideTica(target.name, elements, reference.full.x, reference.full.n);
    const pg = projectPeptideTica(tica, final.x, final.n, 2);
    const pr = projectPeptideTica(tica, reference.x, reference.n, 2);
    const box = { x: sharedRange([everyOther(pr, 0)], 0.002), y: sharedRange([everyOther(pr, 1)], 0.002) };
    b.figure(
      await heatmapFigure(
        'tica',
        'TICA density (first two components, fitted on the reference)',
        [
          { title: 'PITA samples', bins: densityHistogram2d(pg, final.n, box, TICA_BINS), kind: 'density' },
          { title: 'reference', bins: densityHistogram2d(pr, reference.n, box, TICA_BINS), kind: 'density' },
        ],
        { x: 'TIC 1', y: 'TIC 2', domain: box },
        { caption: 'TICA fitted on the whole reference (meaningful when it is a time-ordered trajectory); range: the reference bulk.', key: true },
      ),
    );
  }
  // Chirality per rung: signs of the reference's first row, or of the built structure.
  const centres = peptideChiralityCentres(target.name);
  const nAtoms = target.nParticles;
  const refRow = reference ? reference.full.x.subarray(0, 3 * nAtoms) : target.initialConfigurations(new Rng(0), 1);
  const chir = chiralityReference(Float64Array.from(refRow), 1, nAtoms, centres);
  b.h3('Chirality');
  b.raw(
    table(
      ['rung', 'T', 'samples', 'correct as given', 'fixed by mirroring', 'uncorrectable'],
      sets.map((s, k) => {
        const r = fixChirality(chir, s.x, s.n, 'mirror');
        return [String(k), fmt(T[k]), String(s.n), fmt(r.correctRate), fmt(1 - r.correctRate - r.uncorrectableRate), fmt(r.uncorrectableRate)];
      }),
      'num',
    ),
  );
  b.raw(`<p class="muted">${escapeHtml(`Signs of the Cα centres compared with ${reference ? 'the first reference sample' : 'the built structure of the target'}; fractions of the (subsampled) samples.`)}</p>`);
}

/** Column c of [n, 2] pairs. */
function everyOther(xy: Float64Array, c: number): Float64Array {
  const out = new Float64Array(xy.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = xy[2 * i + c];
  return out;
}
