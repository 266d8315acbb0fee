/**
 * summary.md, the short human summary of a run, and the warning a rung
 * gives when its final reweight collapsed (logged, printed and repeated in
 * the summary).
 */
import type { RunConfig } from '../pita/config.js';
import type { MetricsFile, RungSummary } from './schema.js';

/**
 * A rung whose final reweight kept few distinct particles means the energy
 * model disagrees with the true energy on the annealed samples (undertrained,
 * or spurious low-energy regions), or, with `resampling.tail: weight`, that
 * its path drifts after the resampling window; the samples of that rung are
 * then little better than the relaxation alone. Returns a message, or null
 * when healthy.
 */
export function collapseWarning(r: RungSummary): string | null {
  if (r.uniqueAfterReweight >= 0.1 * r.particles && r.reweightEss >= 0.05) return null;
  return (
    `rung ${r.rung} (T=${r.temperature}): the final reweight kept ${r.uniqueAfterReweight} distinct of ${r.particles} particles (ESS ${r.reweightEss.toPrecision(2)}); ` +
    'the energy model disagrees with the true energy on the annealed samples. Train longer (training.stepsPerTemperature), or use more particles or a finer ladder.'
  );
}

/** The text of summary.md; `device` is the tensor device that finished the run (BackendInfo.device). */
export function summaryMarkdown(cfg: RunConfig, m: MetricsFile, device: string): string {
  const fmt = (v: number | null | undefined) => (v === null || v === undefined ? '–' : v.toPrecision(4));
  const lines = [
    `# PITA run: ${m.target}`,
    '',
    `Ladder: ${m.temperatures.join(' → ')}; network ${cfg.model.network}; seed ${cfg.seed}; device ${device}.`,
    '',
    '## Rungs',
    '',
    '| rung | T | γ | kept / M | resamplings | min ESS | reweight ESS | relax acc. | mean E/kT | s |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...m.rungs.map((r) => `| ${r.rung} | ${r.temperature} | ${r.gamma.toFixed(3)} | ${r.kept} / ${r.particles} | ${r.resamplings} | ${fmt(r.minEss)} | ${fmt(r.reweightEss)} | ${fmt(r.relaxationAcceptance)} | ${fmt(r.meanReducedEnergy)} | ${r.seconds.toFixed(1)} |`),
    '',
    ...m.rungs.flatMap((r) => {
      const w = collapseWarning(r);
      return w ? [`**Warning:** ${w}`, ''] : [];
    }),
    '## Energy evaluations',
    '',
    `Method total: **${m.evaluations.method}** (${Object.entries(m.evaluations.byComponent).map(([k, v]) => `${k} ${v}`).join(', ')}).`,
    '',
  ];
  if (m.pita) {
    const keys = [
      ['energy W1', 'energyW1'],
      ['energy W2', 'energyW2'],
      ['distance W2', 'distanceW2'],
      ['sample W2', 'sampleW2'],
    ] as const;
    const b = m.baseline?.metrics;
    lines.push('## Metrics at the target temperature', '', `| metric | PITA | ${m.baseline ? `${m.baseline.sampler} at equal budget (${m.baseline.evaluations} evaluations)` : ''} |`, '|---|---|---|');
    for (const [label, key] of keys) lines.push(`| ${label} | ${fmt(m.pita[key])} | ${b ? fmt(b[key]) : ''} |`);
    lines.push('');
  }
  return lines.join('\n');
}
