/** A validation check: a measured value that must not exceed its threshold. */
export interface Check {
  name: string;
  value: number;
  threshold: number;
}

export type Validation = () => Check[] | Promise<Check[]>;

/** Progress lines on stderr at most every few seconds. */
export function throttledLog(everyMs = 5000): (msg: string, force?: boolean) => void {
  let last = 0;
  return (msg, force = false) => {
    const now = performance.now();
    if (force || now - last > everyMs) {
      last = now;
      console.error(`  ${msg}`);
    }
  };
}
