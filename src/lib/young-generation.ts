import v8 from 'node:v8';

/**
 * Caps the main thread's young generation once it reaches `mb` (`--semi-space-growth-factor=1`, process-wide, so only
 * for a command that ends with the work); call `tick()` per batch. For the validate peak RSS row (bench/notes.md).
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
