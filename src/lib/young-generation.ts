import v8 from 'node:v8';

/**
 * Stops the young generation of this process's main thread from growing once it is `mb` or more (it grows by
 * doubling: the first size seen at or above `mb`). V8 sizes a worker's young generation from `resourceLimits`, but the
 * main thread's only from start-up flags, so it doubles up to 32 MB under a high allocation rate; V8 reads
 * `--semi-space-growth-factor` at each growth, so setting it to 1 then holds it there: a lower peak memory for a
 * little CPU. Call `tick()` as work goes on, often enough that the young generation cannot double twice in between
 * (once per batch of a few hundred rows is cheap). The flag is the whole process's: for a command that ends with the work.
 */
export class YoungGenerationCap {
  private held = false;

  constructor(private readonly mb: number) {}

  tick(): void {
    if (this.held) return;
    const young = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    if (young && young.space_size >= this.mb * 1024 * 1024) {
      v8.setFlagsFromString('--semi-space-growth-factor=1');
      this.held = true;
    }
  }

  /** The cap was reached and holds. */
  get holding(): boolean {
    return this.held;
  }
}
