/**
 * `npm run bench`: runs the benchmarks and rewrites BENCHMARKS.md with the
 * machine, the command and one row per workload. Select sections with
 * `npm run bench -- targets` (default: all).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { benchAnneal } from './anneal.js';
import { benchForcefield } from './forcefield.js';
import { benchNets } from './nets.js';
import { benchParallel } from './parallel.js';
import { benchTargets } from './targets.js';
import { benchTraining } from './training.js';
import { formatNumber, machineDescription, type BenchRow } from './harness.js';
import '../src/targets/builtin.js';

const sections: Record<string, () => BenchRow[] | Promise<BenchRow[]>> = {
  targets: () => benchTargets(['lj13', 'lj55', 'dw4', 'gmm40']),
  forcefield: () => benchForcefield(),
  nets: () => benchNets(),
  parallel: () => benchParallel(),
  anneal: () => benchAnneal(),
  training: () => benchTraining(),
};

/**
 * Everything from the first `## ` heading on is kept by hand: the CPU notes and the GPU section
 * (the GPU machine is not where `npm run bench` runs).
 */
const HAND_KEPT = '\n## ';

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const names = wanted.length > 0 ? wanted : Object.keys(sections);
  const rows: BenchRow[] = [];
  for (const name of names) {
    const run = sections[name];
    if (!run) throw new Error(`unknown bench section '${name}'; valid: ${Object.keys(sections).join(', ')}`);
    console.error(`bench: ${name} …`);
    const got = await run();
    for (const r of got) console.error(`  ${r.name}: ${formatNumber(r.value)} ${r.unit}${r.notes ? ` (${r.notes})` : ''}`);
    rows.push(...got);
  }
  // Keep rows of sections that were not rerun, so `npm run bench -- targets` updates only its rows,
  // and the hand-kept sections (notes; the GPU rows measured by scripts/gpu-bench.sh) as they stand.
  const previous = existsSync('BENCHMARKS.md') ? readFileSync('BENCHMARKS.md', 'utf8') : '';
  const handAt = previous.indexOf(HAND_KEPT);
  const handKept = handAt >= 0 ? previous.slice(handAt + 1) : '';
  const kept = previous
    ? previous.slice(0, handAt >= 0 ? handAt : undefined)
        .split('\n')
        .filter((l) => l.startsWith('| ') && !l.startsWith('| section') && !names.some((n) => l.startsWith(`| ${n} |`)))
    : [];
  const lines = [
    '# Benchmarks',
    '',
    `Machine: ${machineDescription()}`,
    `Command: \`npm run bench${wanted.length ? ' -- ' + wanted.join(' ') : ''}\``,
    `Date: ${new Date().toISOString().slice(0, 10)}`,
    '',
    'Throughput is the median of 5 timed blocks of at least 0.5 s after 0.3 s warm-up, single thread.',
    'Rows of sections not rerun are kept from the previous file (the header then describes the latest run).',
    '',
    '| section | workload | throughput | unit | notes |',
    '|---|---|---|---|---|',
    ...inSectionOrder([...kept, ...rows.map((r) => `| ${r.section} | ${r.name} | ${formatNumber(r.value)} | ${r.unit} | ${r.notes ?? ''} |`)]),
    '',
    ...(handKept ? [handKept.trimEnd(), ''] : []),
  ];
  writeFileSync('BENCHMARKS.md', lines.join('\n'));
  console.error('wrote BENCHMARKS.md');
}

/** Table rows grouped by section in the order of `sections` (stable within one; unknown sections last). */
function inSectionOrder(lines: string[]): string[] {
  const order = Object.keys(sections);
  const rank = (l: string): number => {
    const i = order.indexOf(l.split('|')[1].trim());
    return i < 0 ? order.length : i;
  };
  return lines.map((l, i) => ({ l, i, r: rank(l) })).sort((a, b) => a.r - b.r || a.i - b.i).map((x) => x.l);
}

await main();
