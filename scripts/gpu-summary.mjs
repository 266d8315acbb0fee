// Summaries for scripts/gpu-bench.sh's progress.txt, from the JSON the benches wrote (plain JavaScript:
// the GPU machine has the production dependencies only, no TypeScript loader).
//   node scripts/gpu-summary.mjs rows PITA_JSON TORCH_JSONL      each row's pita / PyTorch speed (median steps)
//   node scripts/gpu-summary.mjs products PITA_JSON TORCH_JSONL  each DiT product's TFLOP/s, pita's and PyTorch's
import { existsSync, readFileSync } from 'node:fs';

const json = (file, key) => (existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8'))[key] ?? []) : []);
const lines = (file) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);
const fixed = (v, digits) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : 'n/a');

function rows(pitaFile, torchFile) {
  const torch = lines(torchFile);
  return json(pitaFile, 'results').map((r) => {
    const t = torch.find((x) => x.workload === r.name);
    if (t === undefined) return `${r.name} ${fixed(r.medianMs, 2)} ms, no PyTorch`;
    const theirs = t.step_s_median * 1e3;
    return `${r.name} ${fixed(r.medianMs, 2)} ms, PyTorch ${fixed(theirs, 2)} ms: ${fixed(theirs / r.medianMs, 2)}x`;
  });
}

function products(pitaFile, torchFile) {
  const torch = lines(torchFile);
  const ours = json(pitaFile, 'products');
  const total = (list) => (list.length === 0 ? NaN : list.reduce((s, p) => s + (typeof p.ms === 'number' ? p.ms : NaN), 0));
  const each = ours.map((p) => {
    const t = torch.find((x) => x.label === p.label);
    return `${p.label}: ${fixed(p.tflops, 2)} TFLOP/s, PyTorch ${fixed(t?.tflops, 2)}`;
  });
  return [...each, `all ${ours.length}: ${fixed(total(ours), 2)} ms, PyTorch ${fixed(total(torch), 2)} ms`];
}

const [what, pitaFile, torchFile] = process.argv.slice(2);
const summaries = { rows, products };
if (!(what in summaries) || pitaFile === undefined || torchFile === undefined) {
  console.error('usage: node scripts/gpu-summary.mjs rows|products PITA_JSON TORCH_JSONL');
  process.exit(2);
}
console.log(summaries[what](pitaFile, torchFile).join('; ') || 'nothing measured');
