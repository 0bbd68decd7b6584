import { describe, expect, it } from 'vitest';
import { waitInLine } from '../../src/lib/wait-in-line.js';

describe('waitInLine: a FIFO of waiters that can give up', () => {
  it('wakes waiters oldest first, one per call', async () => {
    const line: (() => void)[] = [];
    const woke: string[] = [];
    const a = waitInLine(line).then(() => woke.push('a'));
    const b = waitInLine(line).then(() => woke.push('b'));
    expect(line).toHaveLength(2);
    line.shift()!();
    await a;
    expect(woke).toEqual(['a']);
    line.shift()!();
    await b;
    expect(woke).toEqual(['a', 'b']);
  });

  it('a waiter whose signal aborts leaves the line and rejects with the reason; the next one is woken instead', async () => {
    const line: (() => void)[] = [];
    const ac = new AbortController();
    const gone = waitInLine(line, ac.signal);
    const stays = waitInLine(line);
    ac.abort(new Error('stopped'));
    await expect(gone).rejects.toThrow('stopped');
    expect(line).toHaveLength(1);
    line.shift()!();
    await expect(stays).resolves.toBeUndefined();
  });
});
