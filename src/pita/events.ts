/**
 * What a PITA run reports while it works. The library prints nothing: it
 * emits these events, and the CLI draws progress bars from them and prints
 * the warnings (src/cli/run.ts).
 */

export type RunEvent =
  /** A long phase starts: `label` such as "train T=2" or "anneal T=2→1.5", `total` units of work. */
  | { type: 'phase-start'; label: string; total: number }
  /** `done` of the phase's `total`, with named values worth showing (loss, ESS, …). */
  | { type: 'phase-progress'; label: string; done: number; info: Record<string, number | string> }
  | { type: 'phase-end'; label: string }
  /** Something the user should read even in quiet mode (e.g. a collapsed final reweight); also in log.jsonl. */
  | { type: 'warning'; rung: number; message: string };

export type RunEventListener = (event: RunEvent) => void;

/** Progress of one phase. */
export interface PhaseReporter {
  update(done: number, info?: Record<string, number | string>): void;
  stop(): void;
}

/** Starts a phase that reports to `emit` (nothing when there is no listener). */
export function startPhase(emit: RunEventListener | undefined, label: string, total: number): PhaseReporter {
  if (!emit) return { update() {}, stop() {} };
  emit({ type: 'phase-start', label, total });
  return {
    update: (done, info = {}) => emit({ type: 'phase-progress', label, done, info }),
    stop: () => emit({ type: 'phase-end', label }),
  };
}
