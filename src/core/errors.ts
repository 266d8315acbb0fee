/**
 * Errors a user can fix (bad input, bad config, missing file). The CLI prints
 * only their message, without a stack trace, and exits non-zero.
 */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

/**
 * A long run stopped because its AbortSignal fired (the CLI aborts on Ctrl-C
 * and SIGTERM): it stopped at a safe point, wrote its resume state, and the
 * message says how to continue.
 */
export class InterruptedError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'InterruptedError';
  }
}

/** Raised when a non-finite value is found where it must not propagate. */
export class NonFiniteError extends Error {
  constructor(
    message: string,
    readonly rows: number[] = [],
  ) {
    super(message);
    this.name = 'NonFiniteError';
  }
}

/** Row indices of a row-major [n, dim] array that contain NaN or ±Inf. */
export function nonFiniteRows(x: ArrayLike<number>, n: number, dim: number): number[] {
  const bad: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) {
      if (!Number.isFinite(x[i * dim + j])) {
        bad.push(i);
        break;
      }
    }
  }
  return bad;
}

/** A short human list of row indices: "3, 17, 42 and 5 more". */
export function describeRows(rows: number[], max = 8): string {
  const head = rows.slice(0, max).join(', ');
  return rows.length > max ? `${head} and ${rows.length - max} more` : head;
}

/** Throws a NonFiniteError naming the bad rows if any value is not finite. */
export function assertFiniteRows(what: string, x: ArrayLike<number>, n: number, dim: number): void {
  const bad = nonFiniteRows(x, n, dim);
  if (bad.length > 0) {
    throw new NonFiniteError(`${what}: ${bad.length} of ${n} rows contain NaN or Inf (rows ${describeRows(bad)})`, bad);
  }
}
