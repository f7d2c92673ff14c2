// A counting semaphore bounding how many blob transfers one client runs at a time.

export class Semaphore {
  private available: number;
  private readonly waiting: (() => void)[] = [];

  constructor(max: number) {
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`maxConcurrent must be a positive integer, got ${max}`);
    this.available = max;
  }

  /** Waits for a free slot; the returned function gives it back (calling it again does nothing). */
  async acquire(): Promise<() => void> {
    if (this.available > 0) this.available--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.available++;
    };
  }
}
