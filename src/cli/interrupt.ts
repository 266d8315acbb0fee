/**
 * Ctrl-C (SIGINT) and SIGTERM during a long command (`pita run`, `pita md`).
 * The first one aborts the AbortSignal the library run was given: it stops
 * at its next safe point, writes its resume state, releases its lock and
 * rejects with an InterruptedError (main prints it and exits 130). A second
 * one exits at once; the exit hook (main.ts) still removes the lock, and the
 * atomic writes leave the last commit point intact, as after kill -9.
 */

/** Runs `fn` with SIGINT and SIGTERM turned into an abort of its signal; the handlers go when it settles. */
export async function withInterrupts<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const abort = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (abort.signal.aborted) process.exit(130);
    process.stderr.write(`\n${sig === 'SIGINT' ? 'Ctrl-C' : sig}: stopping at the next safe point and saving the state (again to stop at once)\n`);
    abort.abort(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await fn(abort.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
