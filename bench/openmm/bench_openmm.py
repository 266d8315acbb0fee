#!/usr/bin/env python3
"""OpenMM side of `npm run bench -- forcefield`.

Evaluates the energy and forces of each configuration of a .npy batch one at a
time, the way PITA (through bgflow's OpenMM bridge) calls OpenMM:
context.setPositions(Quantity(nm)) then context.getState(getEnergy=True,
getForces=True), converting the energy and forces to kJ/mol and kJ/mol/nm
numpy values. Only that loop is timed: warm-up for --warmup-seconds, then
--repeats blocks of at least --min-seconds, cycling through the batch; the
throughput is the median over the blocks (the TS harness's scheme).

Usage (Debian python3-simtk, /usr/bin/python3):
    bench_openmm.py SYSTEM.xml POSITIONS.npy [--platforms Reference,CPU]

POSITIONS.npy holds float64 positions in nm, shape [n, 3·atoms] or [n, atoms, 3].
Prints one JSON object to stdout:
    {"openmm_version": str, "n_configurations": n, "n_atoms": a,
     "results": [{"platform", "properties", "configurations_per_second",
                  "energies": [first 16 energies, kJ/mol]}, ...]}
The CPU platform runs with Threads=1 (one core, like the TS engine).
"""
import argparse
import json
import statistics
import sys
import time

import numpy as np
import openmm
from openmm import unit

PLATFORM_PROPERTIES = {
    'Reference': {},
    'CPU': {'Threads': '1'},
}


def load_system(path):
    with open(path, encoding='utf-8') as f:
        system = openmm.XmlSerializer.deserialize(f.read())
    if not isinstance(system, openmm.System):
        raise SystemExit(f'{path}: not a serialised openmm.System')
    return system


def load_positions(path, n_atoms):
    x = np.load(path).astype(np.float64)
    if x.ndim == 2 and x.shape[1] == 3 * n_atoms:
        x = x.reshape(x.shape[0], n_atoms, 3)
    if x.ndim != 3 or x.shape[1:] != (n_atoms, 3):
        raise SystemExit(f'{path}: positions have shape {x.shape}; expected [n, {3 * n_atoms}] or [n, {n_atoms}, 3]')
    if x.shape[0] < 1:
        raise SystemExit(f'{path}: no configurations')
    return x


def evaluate(context, pos):
    """One energy+forces evaluation as bgflow's bridge does it."""
    context.setPositions(unit.Quantity(value=pos, unit=unit.nanometer))
    state = context.getState(getEnergy=True, getForces=True)
    energy = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    forces = state.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer)
    return energy, forces


def throughput(context, x, warmup_seconds, min_seconds, repeats):
    n = x.shape[0]
    i = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < warmup_seconds:
        evaluate(context, x[i % n])
        i += 1
    rates = []
    for _ in range(repeats):
        calls = 0
        start = time.perf_counter()
        end = start
        while end - start < min_seconds:
            evaluate(context, x[i % n])
            i += 1
            calls += 1
            end = time.perf_counter()
        rates.append(calls / (end - start))
    return statistics.median(rates)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('system', help='serialised OpenMM System XML')
    ap.add_argument('positions', help='.npy of positions in nm')
    ap.add_argument('--platforms', default='Reference,CPU', help='comma-separated: Reference, CPU')
    ap.add_argument('--warmup-seconds', type=float, default=0.3)
    ap.add_argument('--min-seconds', type=float, default=0.5)
    ap.add_argument('--repeats', type=int, default=5)
    args = ap.parse_args()

    system = load_system(args.system)
    x = load_positions(args.positions, system.getNumParticles())
    results = []
    for name in args.platforms.split(','):
        if name not in PLATFORM_PROPERTIES:
            raise SystemExit(f"unknown platform '{name}'; valid: {', '.join(PLATFORM_PROPERTIES)}")
        platform = openmm.Platform.getPlatformByName(name)
        context = openmm.Context(system, openmm.VerletIntegrator(0.001), platform, PLATFORM_PROPERTIES[name])
        properties = {p: platform.getPropertyValue(context, p) for p in platform.getPropertyNames()}
        energies = [evaluate(context, x[k])[0] for k in range(min(16, x.shape[0]))]
        rate = throughput(context, x, args.warmup_seconds, args.min_seconds, args.repeats)
        results.append({'platform': name, 'properties': properties, 'configurations_per_second': rate, 'energies': energies})
        del context
    json.dump({'openmm_version': openmm.__version__, 'n_configurations': int(x.shape[0]), 'n_atoms': int(x.shape[1]), 'results': results}, sys.stdout)
    print()


if __name__ == '__main__':
    main()
