import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * In a child process: the flag it sets is the whole process's. The child allocates short-lived objects in bulk (as
 * judging rows does) and reports the largest young generation it saw, with and without the cap.
 */
async function youngestPeak(capMb: number | undefined): Promise<{ peakMb: number; holding: boolean }> {
  const script = `
    import v8 from 'node:v8';
    import { YoungGenerationCap } from './src/lib/young-generation.ts';
    const cap = ${capMb === undefined ? 'undefined' : `new YoungGenerationCap(${capMb})`};
    const young = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
    let peak = 0, keep = [];
    for (let i = 0; i < 4e6; i++) {
      keep.push({ i, s: 'row ' + i, cells: [i, i + 1] });
      if (keep.length > 5000) keep = [];
      if (i % 1000 === 0) { cap?.tick(); peak = Math.max(peak, young()); }
    }
    console.log(JSON.stringify({ peakMb: peak / 1048576, holding: cap?.holding ?? false }));`;
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: new URL('../..', import.meta.url) });
  return JSON.parse(stdout) as { peakMb: number; holding: boolean };
}

describe('holding the main thread young generation', () => {
  it('left alone it grows to V8\'s 32 MB under a high allocation rate; capped at 4 MB it stops within one doubling', async () => {
    const free = await youngestPeak(undefined);
    const capped = await youngestPeak(4);
    expect(free.peakMb).toBeGreaterThanOrEqual(32);
    expect(capped.holding).toBe(true);
    expect(capped.peakMb).toBeLessThanOrEqual(8);
  }, 30_000);
});
