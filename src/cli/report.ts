import type { Command } from 'commander';
import { writeReport } from '../report/report.js';
import { parseCount, parseSeed } from './options.js';

interface ReportCliOptions {
  png?: boolean;
  maxPoints: number;
  seed: number;
}

/** `pita report`: a self-contained HTML report of a run directory (and PNGs of its key figures). */
export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description('write <runDir>/report.html: configuration, metrics vs reference and paper, budget, training, annealing, sample histograms')
    .argument('<runDir>', 'a run directory written by `pita run`')
    .option('--png', 'also write the key figures as <runDir>/figures/*.png')
    .option('--max-points <n>', 'most samples per set in histograms (seeded subsample)', parseCount('--max-points', 10), 5000)
    .option('--seed <s>', 'seed of the subsamples', parseSeed, 0)
    .action((runDir: string, opts: ReportCliOptions) => runReport(runDir, opts));
}

async function runReport(runDir: string, opts: ReportCliOptions): Promise<void> {
  const t0 = performance.now();
  const r = await writeReport(runDir, { png: opts.png, maxPoints: opts.maxPoints, seed: opts.seed });
  const lines = [`report: ${r.html} (${r.report.figures.length} figures, ${((performance.now() - t0) / 1000).toFixed(1)} s)`];
  for (const p of r.pngs) lines.push(`png: ${p}`);
  for (const n of r.report.notices) lines.push(`note: ${n}`);
  console.log(lines.join('\n'));
}
