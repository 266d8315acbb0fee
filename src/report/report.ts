/**
 * `pita report`: one self-contained HTML page for a run directory, with
 * Vega-Lite plots rendered to inline SVG in Node (no scripts, no fetches;
 * a CSP forbids any). Sections: status, configuration and summary, metrics
 * against the reference next to the paper's numbers, the energy-evaluation
 * budget, training curves, annealing diagnostics, per-rung sample
 * histograms (energies, pair distances; Ramachandran for peptides), the
 * peptide metrics at T_K (Ramachandran vs reference, TICA density,
 * chirality) and the initial-data sampler's diagnostics. Whatever is
 * missing (no reference, a run stopped mid-rung) gets a notice instead.
 *
 * Samples are subsampled to at most `maxPoints` rows per set with a seeded
 * Rng, so a report is reproducible and fast on large runs.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic.js';
import { UserError } from '../core/errors.js';
import { readNpyFloat64 } from '../io/npy.js';
import { phiPsiPairs } from '../metrics/dihedrals.js';
import { pairDistances } from '../metrics/distances.js';
import { METHOD_COMPONENTS } from '../rundir/schema.js';
import { createTarget } from '../targets/index.js';
import type { Target } from '../targets/target.js';
import { annealFigure, budgetFigure, heatmapFigure, histogramFigure, rungFigure, swapAcceptanceFigure, trainingFigure } from './figures.js';
import { escapeHtml, fmt, page, PageBuilder, rungTable, table } from './html.js';
import { METRIC_ROWS, PAPER_SOURCE_NOTE, hasPaperNumbers } from './paper.js';
import { isPeptide, peptideSection, RAMA_BINS, ramaAxes, ramaBins } from './peptide.js';
import type { Figure } from './plot.js';
import { svgToPng } from './png.js';
import { readRunDirectory, rungSummaries, type RunDirectory } from '../rundir/reader.js';
import { loadReference, loadRungSamples, type SampleSet } from './samples.js';

export interface ReportOptions {
  /** Most rows per sample set in histograms (seeded subsample). Default 5000. */
  maxPoints?: number;
  /** Seed of the subsamples. Default 0. */
  seed?: number;
}

export interface Report {
  html: string;
  figures: Figure[];
  /** The notices shown (missing reference, incomplete run, …), in page order. */
  notices: string[];
}

/** What every section reads. */
interface Context {
  b: PageBuilder;
  run: RunDirectory;
  /** The ladder, from the config or metrics.json; null when neither is readable. */
  T: readonly number[] | null;
  target: Target | null;
  maxPoints: number;
  seed: number;
}

/** Builds the report of a run directory in memory. */
export async function buildReport(runDir: string, opts: ReportOptions = {}): Promise<Report> {
  const maxPoints = opts.maxPoints ?? 5000;
  if (!Number.isInteger(maxPoints) || maxPoints < 10) throw new UserError(`maxPoints must be an integer ≥ 10, got ${maxPoints}`);
  const run = readRunDirectory(runDir);
  const b = new PageBuilder();
  b.raw(`<h1>PITA run: ${escapeHtml(run.name)}</h1><p class="muted">${escapeHtml(run.dir)}</p>`);
  b.notice(run.status.state === 'complete' ? 'info' : 'warn', `Status — ${run.status.text}.`);
  if (run.configError) b.notice('warn', `Configuration: ${run.configError}`);
  for (const w of run.log.warnings) b.notice('warn', `Warning: ${w.message}`);
  if (run.log.unreadable > 0) b.notice('warn', `log.jsonl: ${run.log.unreadable} lines could not be read and were skipped.`);
  const targetName = run.config?.target ?? run.metrics?.target ?? null;
  let target: Target | null = null;
  if (targetName) {
    try {
      target = createTarget(targetName);
    } catch (e) {
      b.notice('warn', `Target '${targetName}' cannot be built here (${(e as Error).message}); sample histograms are left out.`);
    }
  }
  const ctx: Context = { b, run, T: run.config?.ladder.temperatures ?? run.metrics?.temperatures ?? null, target, maxPoints, seed: opts.seed ?? 0 };
  await summarySection(ctx, targetName);
  b.h2(`Metrics at T_K${ctx.T ? ` = ${ctx.T[ctx.T.length - 1]}` : ''} against the reference`);
  metricsSection(b, run, targetName);
  await budgetSection(ctx);
  await curvesSection(ctx);
  await samplesSection(ctx);
  await samplerSection(ctx);
  return { html: page(`PITA report: ${run.name}`, b.body(), { offline: true }), figures: b.figures, notices: b.notices };
}

/** Energy evaluations by component: metrics.json when finished, else the last checkpoint's. */
function evaluationCounts(run: RunDirectory): Record<string, number> {
  return run.metrics?.evaluations.byComponent ?? run.progress?.evaluations ?? {};
}

function methodTotal(evaluations: Record<string, number>): number {
  return METHOD_COMPONENTS.reduce((a, c) => a + (evaluations[c] ?? 0), 0);
}

/** The run's tensor device and worker count, from its log's device record. */
function deviceText(d: RunDirectory['log']['device']): string {
  if (d === null) return '–';
  return d.workers === null ? d.device : `${d.device}, ${d.workers} worker${d.workers === 1 ? '' : 's'}`;
}

async function summarySection({ b, run, T }: Context, targetName: string | null): Promise<void> {
  const cfg = run.config;
  b.h2('Configuration and summary');
  const rungs = rungSummaries(run);
  const seconds = run.log.train.reduce((a, r) => a + (Number.isFinite(r.seconds) ? r.seconds : 0), 0) + rungs.reduce((a, r) => a + r.seconds, 0);
  b.raw(
    table(
      ['setting', 'value'],
      [
        ['target', targetName ?? '–'],
        ['ladder T_0 → T_K', T ? T.join(' → ') : '–'],
        ['network', cfg ? `${cfg.model.network} ${JSON.stringify(cfg.model.options)}` : '–'],
        ['seed', cfg ? String(cfg.seed) : '–'],
        ['device', deviceText(run.log.device)],
        ['samples per rung', run.samples.length > 0 ? run.samples.map((s) => `T_${s.rung}: ${sampleCount(s.path)}`).join(', ') : 'none yet'],
        ['training steps logged', String(run.log.train.length)],
        ['wall time (training + annealing)', `${seconds.toFixed(1)} s`],
        ['energy evaluations (method)', fmt(methodTotal(evaluationCounts(run)))],
        ['reference', cfg?.evaluation.reference ?? 'none configured'],
        ['baseline', cfg?.baseline ?? '–'],
      ],
      'summary',
    ),
  );
  if (rungs.length > 0) {
    b.h3('Rungs');
    b.raw(rungTable(rungs));
    b.figure(await rungFigure(rungs));
  }
  if (run.configText) b.raw(`<details><summary>config.yaml</summary><pre>${escapeHtml(run.configText)}</pre></details>`);
}

async function budgetSection({ b, run }: Context): Promise<void> {
  b.h2('Energy-evaluation budget');
  const evaluations = evaluationCounts(run);
  if (Object.keys(evaluations).length === 0) {
    b.notice('warn', 'No energy-evaluation counts recorded yet.');
    return;
  }
  const baseline = run.metrics?.baseline ?? null;
  b.raw(
    table(
      ['component', 'evaluations', 'counted in the method cost'],
      Object.entries(evaluations).map(([c, v]) => [c, fmt(v), (METHOD_COMPONENTS as readonly string[]).includes(c) ? 'yes' : 'no']),
      'num',
    ),
  );
  b.raw(
    `<p>Method total: <b>${fmt(methodTotal(evaluations))}</b> evaluations.${
      baseline ? ` Equal-budget baseline: ${escapeHtml(baseline.sampler.toUpperCase())} with ${fmt(baseline.evaluations)} evaluations.` : run.metrics ? ' No baseline was run.' : ''
    }</p>`,
  );
  if (!run.metrics) b.notice('warn', 'Counts at the last checkpoint of an unfinished run; the baseline runs when the run finishes.');
  b.figure(await budgetFigure(evaluations, baseline ? { sampler: baseline.sampler, evaluations: baseline.evaluations } : null));
}

async function curvesSection({ b, run, T }: Context): Promise<void> {
  b.h2('Training');
  const training = await trainingFigure(run.log.train);
  if (training) b.figure(training);
  else b.notice('warn', 'No training steps logged yet.');
  b.h2('Annealing');
  const annealing = await annealFigure(run.log.anneal, T);
  if (annealing) b.figure(annealing);
  else b.notice(run.status.state === 'complete' ? 'info' : 'warn', 'No annealing steps logged yet.');
}

/** Per rung: energy and pair-distance histograms (against the reference at T_K), Ramachandran for peptides; then the peptide section. */
async function samplesSection(ctx: Context): Promise<void> {
  const { b, run, T, target, maxPoints, seed } = ctx;
  b.h2('Samples per rung');
  if (!target || !T) {
    b.notice('warn', 'No target or ladder to evaluate samples with.');
    return;
  }
  const K = T.length - 1;
  const reference = loadReference(run, target, maxPoints, seed, (kind, text) => b.notice(kind, text));
  const sets = loadRungSamples(run, target, maxPoints, seed);
  const peptide = isPeptide(target);
  const eUnit = target.energyUnit === 'reduced' ? 'reduced units' : target.energyUnit;
  const lUnit = target.lengthUnit === 'reduced' ? 'reduced units' : target.lengthUnit;
  const layout = { nParticles: target.nParticles, spatialDim: target.spatialDim };
  for (let k = 0; k <= K; k++) {
    b.h3(`Rung ${k}: T_${k} = ${T[k]}${k === 0 ? ' (initial data)' : ''}`);
    const s = sets[k];
    if (!s) {
      b.notice('warn', `Incomplete: samples/T_${k}.npy does not exist yet (rung ${k} not reached).`);
      continue;
    }
    if (s.dropped > 0) b.notice('warn', `${s.dropped} of ${s.total} rows hold NaN or Inf and are left out of the plots.`);
    const ref = k === K ? reference : null;
    const withRef = (values: (x: SampleSet) => Float64Array) => [{ name: 'samples', values: values(s) }, ...(ref ? [{ name: 'reference', values: values(ref) }] : [])];
    const panels = [{ title: 'energy', xTitle: `E (${eUnit})`, sets: withRef((x) => target.energy(x.x, x.n)) }];
    if (target.nParticles > 1) panels.push({ title: 'pooled pair distances', xTitle: `|x_i − x_j| (${lUnit})`, sets: withRef((x) => pairDistances(x.x, x.n, layout)) });
    const shown = s.n < s.total ? `${s.n} of ${s.total} samples (seeded subsample)` : `${s.n} samples`;
    const against = ref ? `; reference: ${ref.n} rows of ${reference!.source}` : k === K ? '; no reference samples to compare with' : '; the reference is at T_K only';
    b.figure(await histogramFigure(`rung-${k}`, `Rung ${k}: energies and pair distances`, panels, { caption: shown + against, key: k === K }));
    if (peptide) {
      const maps = phiPsiPairs(target.name, s.x, s.n).map((r) => ({ title: `residue ${r.residue} (φ, ψ)`, bins: ramaBins(r.angles, s.n), kind: 'density' as const }));
      b.figure(await heatmapFigure(`rama-rung-${k}`, `Rung ${k}: Ramachandran`, maps, ramaAxes, { caption: `Density per deg², ${RAMA_BINS}×${RAMA_BINS} bins.`, key: false }));
    }
  }
  if (peptide) await peptideSection(b, target, sets, reference, K, T);
}

/** Diagnostics of the sampler that made the initial data, when the run logged them. */
async function samplerSection({ b, run }: Context): Promise<void> {
  const cfg = run.config;
  b.h2('Initial data: sampler diagnostics');
  if (run.log.initialData.length === 0) {
    b.notice('info', `No MD or parallel-tempering diagnostics were logged for the initial data${cfg ? ` (generator: ${cfg.data.source === 'file' ? `file ${cfg.data.file}` : cfg.data.generator.sampler})` : ''}.`);
  }
  for (const rec of run.log.initialData) {
    b.raw(table(['sampler', 'acceptance', 'round trips', 'mean kinetic temperature'], [[rec.sampler, fmt(rec.acceptance), fmt(rec.roundTrips), fmt(rec.meanKineticTemperature)]], 'num'));
    b.figure(await swapAcceptanceFigure(rec));
  }
}

/** Writes `<runDir>/report.html` and, with `png`, `<runDir>/figures/<id>.png` for the key figures. */
export async function writeReport(runDir: string, opts: ReportOptions & { png?: boolean } = {}): Promise<{ html: string; pngs: string[]; report: Report }> {
  const report = await buildReport(runDir, opts);
  const html = join(runDir, 'report.html');
  writeFileAtomic(html, report.html);
  const pngs: string[] = [];
  if (opts.png) {
    const dir = join(runDir, 'figures');
    mkdirSync(dir, { recursive: true });
    for (const f of report.figures.filter((g) => g.key)) {
      const path = join(dir, `${f.id}.png`);
      writeFileAtomic(path, svgToPng(f.svg));
      pngs.push(path);
    }
  }
  return { html, pngs, report };
}

function sampleCount(path: string): string {
  return String(readNpyFloat64(path).shape[0]);
}

function metricsSection(b: PageBuilder, run: RunDirectory, targetName: string | null): void {
  const m = run.metrics;
  if (!m) {
    b.notice('warn', 'Incomplete: metrics.json is written when the run finishes.');
    return;
  }
  if (!m.pita) {
    b.notice('info', 'No reference: the run had no evaluation.reference, so no metrics were computed.');
    return;
  }
  const pita = m.pita;
  const base = m.baseline?.metrics ?? null;
  const name = targetName ?? m.target;
  const paperCol = `paper (${PAPER_SOURCE_NOTE})`;
  const head = ['metric', 'PITA', ...(m.baseline ? [`${m.baseline.sampler.toUpperCase()} (equal budget)`] : []), paperCol, 'note'];
  const rows = METRIC_ROWS.filter((r) => r.value(pita) !== null || r.paper[name] !== undefined).map((r) => [
    r.label,
    fmt(r.value(pita)),
    ...(m.baseline ? [base ? fmt(r.value(base)) : '–'] : []),
    r.paper[name] !== undefined ? fmt(r.paper[name]) : '–',
    r.note && (r.paper[name] !== undefined || r.value(pita) === null) ? r.note : '',
  ]);
  b.raw(table(head, rows, 'num metrics'));
  b.raw(
    `<p class="muted">${fmt(pita.nSamples)} samples against ${fmt(pita.nReference)} reference samples at T = ${fmt(pita.temperature)}; mean E/kT ${fmt(pita.meanReducedEnergy)} (reference ${fmt(pita.meanReducedEnergyReference)}); OT and MMD on ${pita.otPoints} points.</p>`,
  );
  if (!hasPaperNumbers(name)) b.notice('info', `The paper publishes no numbers for '${name}'.`);
  else b.notice('info', `Paper numbers are ${PAPER_SOURCE_NOTE}; they were obtained at the paper's sample sizes.`);
}

