import type { Command } from 'commander';
import { createTarget, targetNames } from '../targets/index.js';

/** `pita targets`: the built-in targets with their dimensions and units. */
export function registerTargetsCommand(program: Command): void {
  program
    .command('targets')
    .description('list the built-in targets')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const rows = targetNames().map((name) => {
        const t = createTarget(name);
        return {
          name,
          dim: t.dim,
          particles: t.nParticles,
          spatialDim: t.spatialDim,
          energyUnit: t.energyUnit,
          lengthUnit: t.lengthUnit,
          kB: t.kB,
          defaultTemperature: t.defaultTemperature,
          exactSampler: typeof t.sampleExact === 'function',
        };
      });
      if (opts.json) {
        console.log(JSON.stringify(rows, null, 2));
        return;
      }
      console.log('name      dim  particles×d  energy unit   k_B           default T  exact samples');
      for (const r of rows) {
        console.log(
          `${r.name.padEnd(9)} ${String(r.dim).padStart(4)}  ${`${r.particles}×${r.spatialDim}`.padEnd(11)}  ${r.energyUnit.padEnd(12)}  ${String(r.kB).padEnd(12)}  ${String(r.defaultTemperature).padEnd(9)}  ${r.exactSampler ? 'yes' : 'no'}`,
        );
      }
    });
}
