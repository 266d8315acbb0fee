/**
 * Benchmark harness: times a workload after warm-up and reports the median of
 * several timed repeats. Used by bench/run.ts, which writes BENCHMARKS.md.
 */
import os from 'node:os';

export interface BenchRow {
  section: string;
  name: string;
  /** Throughput in `unit` per second (median over repeats). */
  value: number;
  unit: string;
  notes?: string;
}

/**
 * Runs `fn` (which processes `itemsPerCall` items) repeatedly: warm-up for
 * `warmupSeconds`, then `repeats` timed blocks of at least `minSeconds` each;
 * returns the median items per second.
 */
export function throughput(fn: () => void, itemsPerCall: number, opts: { warmupSeconds?: number; minSeconds?: number; repeats?: number } = {}): number {
  const warm = opts.warmupSeconds ?? 0.3;
  const minS = opts.minSeconds ?? 0.5;
  const repeats = opts.repeats ?? 5;
  const t0 = performance.now();
  while (performance.now() - t0 < warm * 1000) fn();
  const rates: number[] = [];
  for (let r = 0; r < repeats; r++) {
    let calls = 0;
    const s = performance.now();
    let e = s;
    while (e - s < minS * 1000) {
      fn();
      calls++;
      e = performance.now();
    }
    rates.push((calls * itemsPerCall) / ((e - s) / 1000));
  }
  rates.sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)];
}

export function machineDescription(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model ?? 'unknown CPU'} (${cpus.length} logical cores), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}, ${os.platform()} ${os.arch()}`;
}

export function formatNumber(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)} M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)} k`;
  return v.toPrecision(3);
}
