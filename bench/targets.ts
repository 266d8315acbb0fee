/** Energy-and-force throughput of the built-in targets (configurations per second, one core). */
import { Rng } from '../src/core/rng.js';
import { createTarget } from '../src/targets/index.js';
import { throughput, type BenchRow } from './harness.js';

export function benchTargets(names: string[], batch = 256): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const name of names) {
    const target = createTarget(name);
    const x = target.initialConfigurations(new Rng(0), batch);
    const rate = throughput(() => target.energyAndForces(x, batch), batch);
    rows.push({ section: 'targets', name: `${name} energy+forces (batch ${batch})`, value: rate, unit: 'configurations/s' });
  }
  return rows;
}
