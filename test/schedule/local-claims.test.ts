import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalSlotClaims, STALE_MS } from '../../src/schedule/local-claims.js';
import { removeDir } from '../support/redis.js';

const root = mkdtempSync(join(tmpdir(), 'paybatch-claims-'));
afterAll(() => removeDir(root));

const at = (iso: string) => new Date(iso);

describe('slots claimed beside a job\'s reports', () => {
  it('a slot is taken once; while it runs, a later slot of the job is left to its scheduler; once it ended, the next is free', async () => {
    const output = join(root, 'one');
    // Two schedulers: each its own object (another process, another machine), the same output folder.
    const a = new LocalSlotClaims({ name: 'monthly', output });
    const b = new LocalSlotClaims({ name: 'monthly', output });
    const first = await a.claim(at('2026-03-01T07:00:00Z'), at('2026-03-01T07:00:00Z'));
    expect(first.kind).toBe('mine');
    expect((await b.claim(at('2026-03-01T07:00:00Z'), at('2026-03-01T07:00:00Z'))).kind).toBe('busy');
    const later = await b.claim(at('2026-03-01T07:00:02Z'), at('2026-03-01T07:00:02Z'));
    expect(later).toMatchObject({ kind: 'busy', running: { slot: '2026-03-01T07:00:00.000Z' } });

    if (first.kind !== 'mine') throw new Error('unreachable');
    await a.finish({ ...first.record, endedAt: '2026-03-01T07:00:03.000Z', outcome: 'done', exitCode: 0 });
    expect((await b.claim(at('2026-03-01T07:00:00Z'), at('2026-03-01T07:00:04Z'))).kind).toBe('taken');
    expect((await b.claim(at('2026-03-01T07:00:04Z'), at('2026-03-01T07:00:04Z'))).kind).toBe('mine');
    expect(await a.last()).toMatchObject({ slot: '2026-03-01T07:00:04.000Z' });
    expect(readdirSync(join(output, '.schedule', 'monthly')).sort()).toEqual(['20260301T070000Z.json', '20260301T070004Z.json', 'running.lock']);
  });

  it('a scheduler that died mid-slot holds the job only until its lock is stale', async () => {
    const output = join(root, 'two');
    const dead = new LocalSlotClaims({ name: 'nightly', output });
    const heir = new LocalSlotClaims({ name: 'nightly', output });
    expect((await dead.claim(at('2026-03-01T02:00:00Z'), new Date())).kind).toBe('mine');
    // Never finished, never touched again: a minute on (by the clock, moved), the next slot breaks the lock.
    const soon = new Date(Date.now() + 1000);
    expect((await heir.claim(at('2026-03-02T02:00:00Z'), soon)).kind).toBe('busy');
    const stale = new Date(Date.now() + STALE_MS + 1000);
    const taken = await heir.claim(at('2026-03-02T02:00:00Z'), stale);
    expect(taken.kind).toBe('mine');
    if (taken.kind !== 'mine') throw new Error('unreachable');
    await heir.finish({ ...taken.record, outcome: 'done', exitCode: 0, endedAt: stale.toISOString() });
    expect(existsSync(join(output, '.schedule', 'nightly', 'running.lock'))).toBe(false);
    expect(readdirSync(join(output, '.schedule', 'nightly')).filter((n) => n.includes('stale'))).toEqual([]);
  });
});
