/**
 * Molecular targets backed by a force-field System: the built-in peptides
 * `aldp` (capped ACE-ALA-NME, 22 atoms) and `al3` (zwitterionic Ala3, 33
 * atoms), and any OpenMM System XML a user brings (`--system file.xml`).
 * Coordinates in nm, energies in kJ/mol, temperatures in K, k_B = R.
 */
import type { Rng } from '../core/rng.js';
import { removeCentroidRow } from '../core/particles.js';
import { MOLAR_GAS_CONSTANT } from '../forcefield/constants.js';
import { loadPeptide, type PeptideTopology } from '../forcefield/peptides.js';
import type { System } from '../forcefield/system.js';
import { readSystemXml } from '../forcefield/xml.js';
import { EvalCounter } from '../core/counter.js';
import { batchSize, type EnergyForces, type Target } from './target.js';

export class MoleculeTarget implements Target {
  readonly dim: number;
  readonly nParticles: number;
  readonly spatialDim = 3;
  readonly kB = MOLAR_GAS_CONSTANT;
  readonly energyUnit = 'kJ/mol';
  readonly lengthUnit = 'nm';
  readonly temperatureUnit = 'K';
  readonly defaultTemperature = 300;
  /** 1 fs in ps: no bond constraints, so the hydrogen stretches need it (pita md's default too). */
  readonly defaultTimestep = 0.001;
  /**
   * PT's default ladder T … 4T (300 … 1200 K, the top of the paper's ALDP
   * ladder): on ALDP at 300 K with n = 2000 it passes its diagnostics (658
   * round trips, energy R̂ 1.008); to 10T (3000 K) it did not (R̂ 1.012).
   */
  readonly defaultTMaxFactor = 4;
  readonly translationInvariant = true;
  readonly counter = new EvalCounter();
  readonly masses: Float64Array;

  constructor(
    readonly name: string,
    readonly system: System,
    /** Topology with a starting structure (built-in peptides); null for a bare System. */
    readonly topology: PeptideTopology | null,
  ) {
    this.nParticles = system.nParticles;
    this.dim = system.dim;
    this.masses = system.masses;
  }

  energy(x: Float64Array, n?: number): Float64Array {
    const rows = batchSize(this, x, n);
    const e = this.system.energy(x, rows);
    this.counter.add(rows);
    return e;
  }

  energyAndForces(x: Float64Array, n?: number): EnergyForces {
    const rows = batchSize(this, x, n);
    const r = this.system.energyAndForces(x, rows);
    this.counter.add(rows);
    return r;
  }

  /**
   * The relaxed built structure (mean-free) for every row; molecular systems
   * have no useful random initialisation. A bare System has no structure, so
   * the caller must supply one.
   */
  initialConfigurations(_rng: Rng, n: number): Float64Array {
    if (!this.topology) {
      throw new Error(`target ${this.name} has no built-in structure; give starting coordinates (e.g. --init x.npy)`);
    }
    const x = new Float64Array(n * this.dim);
    for (let i = 0; i < n; i++) {
      x.set(this.topology.positions, i * this.dim);
      removeCentroidRow(x, i * this.dim, this.nParticles, 3);
    }
    return x;
  }
}

/** A built-in peptide target ('aldp' or 'al3'). */
export function createPeptideTarget(name: string): MoleculeTarget {
  const { system, topology } = loadPeptide(name);
  return new MoleculeTarget(name, system, topology);
}

/** A target from a serialised OpenMM System XML file. */
export function createSystemTarget(path: string): MoleculeTarget {
  return new MoleculeTarget(`system:${path}`, readSystemXml(path), null);
}
