import type { Command } from 'commander';
import { evaluateSamples, type SampleMetrics } from '../metrics/evaluate.js';
import { loadConfigurations, resolveTarget } from './common.js';
import { parseCount, parsePositive, parseSeed } from './options.js';

interface EvalOptions {
  target?: string;
  system?: string;
  samples: string;
  reference: string;
  temperature?: number;
  json?: boolean;
  maxOtPoints: number;
  seed: number;
}

/** `pita eval`: metrics of samples against reference samples, as a table or JSON. */
export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description('compare samples with reference samples: energy W1/W2, distance W2, sample W2 (exact OT), MMD')
    .option('--target <name>', 'target name (see `pita targets`)')
    .option('--system <file.xml>', 'an OpenMM System XML file instead of a built-in target')
    .requiredOption('--samples <file.npy>', 'generated samples, shape [n, dim]')
    .requiredOption('--reference <file.npy>', 'reference samples, shape [m, dim]')
    .option('--temperature <T>', 'temperature of both sets (default: the target default)', parsePositive('--temperature'))
    .option('--max-ot-points <m>', 'subsample size for exact OT and MMD', parseCount('--max-ot-points', 2), 2000)
    .option('--seed <s>', 'seed of the OT/MMD subsample', parseSeed, 0)
    .option('--json', 'print JSON instead of a table')
    .action((opts: EvalOptions) => runEval(opts));
}

function runEval(opts: EvalOptions): void {
  const target = resolveTarget(opts);
  const T = opts.temperature ?? target.defaultTemperature;
  const g = loadConfigurations(opts.samples, target, '--samples');
  const r = loadConfigurations(opts.reference, target, '--reference');
  const m = evaluateSamples(target, g.x, g.n, r.x, r.n, { temperature: T, maxOtPoints: opts.maxOtPoints, seed: opts.seed });
  if (opts.json) {
    console.log(JSON.stringify({ target: target.name, ...m }, null, 2));
    return;
  }
  console.log(formatMetricsTable(target.name, m));
}

export function formatMetricsTable(name: string, m: SampleMetrics): string {
  const rows: [string, string][] = [
    ['target', name],
    ['temperature', String(m.temperature)],
    ['samples / reference', `${m.nSamples} / ${m.nReference}`],
    ['mean E/kT (samples)', m.meanReducedEnergy.toFixed(4)],
    ['mean E/kT (reference)', m.meanReducedEnergyReference.toFixed(4)],
    ['energy W1 (E/kT)', m.energyW1.toFixed(4)],
    ['energy W2 (E/kT)', m.energyW2.toFixed(4)],
  ];
  if (m.distanceW2 !== null) rows.push(['distance W2', m.distanceW2.toFixed(5)]);
  rows.push([`sample W2 (exact OT, ${m.otPoints} pts)`, m.sampleW2.toFixed(4)], [`MMD² (RBF, ${m.otPoints} pts)`, m.mmd2.toExponential(3)]);
  if (m.peptide) {
    const p = m.peptide;
    rows.push(
      ['Ramachandran KL (smoothed)', p.ramaKL.toFixed(4)],
      ['Ramachandran KL (unsmoothed)', p.ramaKLUnsmoothed.toFixed(4)],
      ['torus W2 (backbone angles)', p.torusW2.toFixed(4)],
      ['TICA W2 (2 components)', p.ticaW2.toFixed(4)],
      ['chirality: correct / uncorrectable', `${p.chiralityCorrectRate.toFixed(4)} / ${p.chiralityUncorrectableRate.toFixed(4)}`],
    );
  }
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}
