/**
 * Energy-and-force throughput of the peptide force fields (configurations per
 * second, one core): the TS engine on a batch, and OpenMM 7.7 (Debian
 * python3-simtk, /usr/bin/python3) on the same configurations one at a time,
 * as PITA calls it (bench/openmm/bench_openmm.py), on the Reference platform
 * and on the CPU platform with Threads=1. Both sides read the same System XML
 * (src/forcefield/data/<name>/system.xml).
 *
 * Configurations: the first `batch` rows of the low-temperature reference
 * split in ../shared/data when present, else the built structure plus seeded
 * Gaussian noise (σ = 0.01 nm per coordinate).
 *
 * Without OpenMM (or its CPU platform, package libopenmm-plugins) the bench
 * tries `apt-get install`; if that fails, the OpenMM rows are skipped with a
 * message on stderr.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../src/core/rng.js';
import { readNpyFloat64, writeNpy } from '../src/io/npy.js';
import { createTarget, type Target } from '../src/targets/index.js';
import { formatNumber, throughput, type BenchRow } from './harness.js';

const PYTHON = '/usr/bin/python3';
const OPENMM_SCRIPT = fileURLToPath(new URL('./openmm/bench_openmm.py', import.meta.url));
const OPENMM_PACKAGES = ['python3-simtk', 'libopenmm-plugins'];
const PLATFORMS = ['Reference', 'CPU'] as const;
type Platform = (typeof PLATFORMS)[number];

/** Built-in peptides and the reference split their configurations come from. */
const PEPTIDES = [
  { name: 'aldp', split: 'train_300K.npy' },
  { name: 'al3', split: 'train_349.96K.npy' },
] as const;

interface OpenmmResult {
  platform: string;
  properties: Record<string, string>;
  configurations_per_second: number;
  energies: number[];
}

interface Workload {
  name: string;
  target: Target;
  x: Float64Array;
  source: string;
  tsRate: number;
}

function systemXml(name: string): string {
  return fileURLToPath(new URL(`../src/forcefield/data/${name}/system.xml`, import.meta.url));
}

function configurations(target: Target, split: string, batch: number): { x: Float64Array; source: string } {
  const path = resolve('..', 'shared', 'data', target.name, split);
  if (existsSync(path)) {
    const ref = readNpyFloat64(path, { cols: target.dim, what: `target ${target.name}` });
    if (ref.shape[0] >= batch) return { x: ref.data.slice(0, batch * target.dim), source: `${split} rows 0–${batch - 1}` };
  }
  const x = target.initialConfigurations(new Rng(0), batch);
  const noise = new Rng(1).normals(x.length);
  for (let i = 0; i < x.length; i++) x[i] += 0.01 * noise[i];
  return { x, source: 'built structure + N(0, 0.01 nm) noise, seed 1' };
}

/** OpenMM platforms /usr/bin/python3 can use, or why none. */
function probeOpenmm(): { platforms: string[] } | { error: string } {
  const code = 'import json, openmm; print(json.dumps([openmm.Platform.getPlatform(i).getName() for i in range(openmm.Platform.getNumPlatforms())]))';
  const r = spawnSync(PYTHON, ['-c', code], { encoding: 'utf8' });
  if (r.error) return { error: `${PYTHON} cannot run (${r.error.message})` };
  if (r.status !== 0) return { error: `${PYTHON} cannot import openmm: ${r.stderr.trim().split('\n').pop() ?? ''}` };
  return { platforms: JSON.parse(r.stdout) as string[] };
}

/** Installs OpenMM with apt when it or its CPU platform is missing; returns the usable platforms, or why none. */
function ensureOpenmm(): { platforms: Platform[]; missing: string } {
  let probe = probeOpenmm();
  const complete = (p: typeof probe) => 'platforms' in p && PLATFORMS.every((name) => p.platforms.includes(name));
  if (!complete(probe)) {
    const why = 'error' in probe ? probe.error : `OpenMM has platforms ${probe.platforms.join(', ')} only`;
    console.error(`  ${why}; trying apt-get install -y ${OPENMM_PACKAGES.join(' ')}`);
    const update = spawnSync('apt-get', ['update'], { stdio: ['ignore', 2, 2] });
    const install = update.status === 0 ? spawnSync('apt-get', ['install', '-y', ...OPENMM_PACKAGES], { stdio: ['ignore', 2, 2] }) : update;
    if (install.status !== 0) console.error(`  apt-get failed (${install.error?.message ?? `exit status ${install.status}`})`);
    probe = probeOpenmm();
  }
  if ('error' in probe) return { platforms: [], missing: probe.error };
  const platforms = PLATFORMS.filter((name) => probe.platforms.includes(name));
  const absent = PLATFORMS.filter((name) => !platforms.includes(name));
  return { platforms, missing: absent.length ? `OpenMM platform(s) ${absent.join(', ')} not available` : '' };
}

function runOpenmm(xml: string, x: Float64Array, batch: number, dim: number, platforms: Platform[]): OpenmmResult[] {
  const dir = mkdtempSync(join(tmpdir(), 'pita-bench-'));
  try {
    const npy = join(dir, 'positions.npy');
    writeNpy(npy, x, [batch, dim], 'float64');
    const r = spawnSync(PYTHON, [OPENMM_SCRIPT, xml, npy, '--platforms', platforms.join(',')], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (r.status !== 0) throw new Error(`${OPENMM_SCRIPT} failed (${r.error?.message ?? `exit status ${r.status}`}): ${r.stderr}`);
    return (JSON.parse(r.stdout) as { results: OpenmmResult[] }).results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Largest |E_TS − E_OpenMM| (kJ/mol) over the configurations OpenMM reported energies for. */
function maxEnergyDifference(target: Target, x: Float64Array, energies: number[]): number {
  const e = target.energy(x.subarray(0, energies.length * target.dim), energies.length);
  return energies.reduce((m, v, i) => Math.max(m, Math.abs(v - e[i])), 0);
}

/**
 * Rows: TS aldp, TS al3 (batch `batch`), then OpenMM Reference and OpenMM CPU
 * (Threads=1) for each peptide, one configuration per call. The TS rows note
 * the ratio TS / OpenMM CPU.
 */
export function benchForcefield(batch = 256): BenchRow[] {
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`batch must be an integer ≥ 1, got ${batch}`);
  const workloads: Workload[] = PEPTIDES.map(({ name, split }) => {
    const target = createTarget(name);
    const { x, source } = configurations(target, split, batch);
    const tsRate = throughput(() => target.energyAndForces(x, batch), batch);
    return { name, target, x, source, tsRate };
  });

  const { platforms, missing } = ensureOpenmm();
  if (missing) console.error(`  bench forcefield: ${missing}; ${platforms.length ? 'those' : 'all OpenMM'} rows are skipped`);
  const openmm = new Map<string, Map<string, OpenmmResult>>();
  for (const w of workloads) {
    const results = platforms.length ? runOpenmm(systemXml(w.name), w.x, batch, w.target.dim, platforms) : [];
    openmm.set(w.name, new Map(results.map((r) => [r.platform, r])));
  }

  const rows: BenchRow[] = workloads.map((w) => {
    const cpu = openmm.get(w.name)?.get('CPU');
    const ratio = cpu ? `; ${(w.tsRate / cpu.configurations_per_second).toFixed(2)}× OpenMM CPU (1 thread)` : '; OpenMM CPU not measured';
    return {
      section: 'forcefield',
      name: `${w.name} TS energy+forces (batch ${batch})`,
      value: w.tsRate,
      unit: 'configurations/s',
      notes: `${w.source}${ratio}`,
    };
  });
  for (const platform of platforms) {
    for (const w of workloads) {
      const r = openmm.get(w.name)?.get(platform);
      if (!r) throw new Error(`OpenMM returned no ${platform} result for ${w.name}`);
      const props = Object.entries(r.properties)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ');
      const dE = maxEnergyDifference(w.target, w.x, r.energies);
      // No '|' in notes: they become cells of a Markdown table.
      rows.push({
        section: 'forcefield',
        name: `${w.name} OpenMM 7.7 ${platform} energy+forces (one per call)`,
        value: r.configurations_per_second,
        unit: 'configurations/s',
        notes: `same configurations${props ? `; ${props}` : ''}; largest energy difference from TS ${dE.toExponential(1)} kJ/mol (first ${r.energies.length}); TS/OpenMM ${formatNumber(w.tsRate / r.configurations_per_second)}×`,
      });
    }
  }
  return rows;
}
