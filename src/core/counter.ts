/**
 * Energy-evaluation accounting. Every call of a true energy (or energy and
 * force, which come together) adds the number of configurations evaluated to
 * the total and to the component that is current at the time. Components let a
 * run report what its budget went to (initial data, buffer fills, reweighting,
 * relaxation, evaluation-only).
 */
export class EvalCounter {
  private totalCount = 0;
  private readonly byComponent = new Map<string, number>();
  private current = 'unattributed';

  add(n: number): void {
    this.totalCount += n;
    this.byComponent.set(this.current, (this.byComponent.get(this.current) ?? 0) + n);
  }

  get total(): number {
    return this.totalCount;
  }

  get component(): string {
    return this.current;
  }

  /** Run `fn` with evaluations attributed to `label`; restores the previous label after (also on throw). */
  attribute<T>(label: string, fn: () => T): T {
    const prev = this.current;
    this.current = label;
    try {
      return fn();
    } finally {
      this.current = prev;
    }
  }

  /**
   * `attribute` for an async `fn`: the label holds until its promise settles,
   * so nothing else may evaluate on this counter's target meanwhile.
   */
  async attributeAsync<T>(label: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.current;
    this.current = label;
    try {
      return await fn();
    } finally {
      this.current = prev;
    }
  }

  /** Set the current component (for long-lived phases); returns the previous label. */
  setComponent(label: string): string {
    const prev = this.current;
    this.current = label;
    return prev;
  }

  breakdown(): Record<string, number> {
    return Object.fromEntries([...this.byComponent.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }

  reset(): void {
    this.totalCount = 0;
    this.byComponent.clear();
  }

  /** Restore counts from a checkpoint. */
  load(breakdown: Record<string, number>): void {
    this.reset();
    for (const [k, v] of Object.entries(breakdown)) {
      this.byComponent.set(k, v);
      this.totalCount += v;
    }
  }
}
