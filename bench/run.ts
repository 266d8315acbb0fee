/**
 * `npm run bench`: runs the benchmarks and rewrites BENCHMARKS.md with the
 * machine, the command and one row per workload. Select sections with
 * `npm run bench -- targets` (default: all).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { benchForcefield } from './forcefield.js';
import { benchNets } from './nets.js';
import { benchParallel } from './parallel.js';
import { benchTargets } from './targets.js';
import { formatNumber, machineDescription, type BenchRow } from './harness.js';
import '../src/targets/builtin.js';

const sections: Record<string, () => BenchRow[] | Promise<BenchRow[]>> = {
  targets: () => benchTargets(['lj13', 'lj55', 'dw4', 'gmm40']),
  nets: () => benchNets(),
  forcefield: () => benchForcefield(),
  parallel: () => benchParallel(),
};

/** Start of the hand-kept GPU section (the GPU machine is not where `npm run bench` runs). */
const GPU_HEADING = '## GPU: NVIDIA H200';

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
  // and the GPU section (measured on the GPU machine by scripts/gpu-bench.sh) as it stands.
  const previous = existsSync('BENCHMARKS.md') ? readFileSync('BENCHMARKS.md', 'utf8') : '';
  const gpuAt = previous.indexOf(GPU_HEADING);
  const gpuSection = gpuAt >= 0 ? previous.slice(gpuAt) : '';
  const kept = previous
    ? previous.slice(0, gpuAt >= 0 ? gpuAt : undefined)
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
    ...kept,
    ...rows.map((r) => `| ${r.section} | ${r.name} | ${formatNumber(r.value)} | ${r.unit} | ${r.notes ?? ''} |`),
    '',
    ...(gpuSection ? [gpuSection.trimEnd(), ''] : []),
  ];
  writeFileSync('BENCHMARKS.md', lines.join('\n'));
  console.error('wrote BENCHMARKS.md');
}

await main();
