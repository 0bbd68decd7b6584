import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
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

/** STATE/schedule/JOB as the scheduler of the earlier version left it: when the job was first scheduled, and its slots. */
function formerClaims(name: string, registered: string, slots: { slot: string; outcome: 'done' | 'failed' }[]): string {
  const state = mkdtempSync(join(root, 'state-'));
  mkdirSync(join(state, 'schedule', name), { recursive: true });
  writeFileSync(join(state, 'schedule', name, 'registered'), `${registered}\n`);
  for (const s of slots) formerSlot(state, name, s.slot, s.outcome);
  return state;
}

function formerSlot(state: string, name: string, slot: string, outcome: 'done' | 'failed'): void {
  const record = { job: name, slot, host: 'old-host', pid: 1, startedAt: slot, endedAt: slot, outcome, exitCode: outcome === 'done' ? 0 : 1, message: 'invoices.csv: 3 CREATED, 3 sent' };
  writeFileSync(join(state, 'schedule', name, `${slot.replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z')}.json`), `${JSON.stringify(record)}\n`);
}

describe('slots claimed in the state folder before they moved beside the reports', () => {

  it('the first scheduler after the upgrade carries the last slot over: that slot is not run again, and its outcome is still listed', async () => {
    const state = formerClaims('monthly', '2025-12-01T10:00:00.000Z', [
      { slot: '2026-01-01T07:00:00.000Z', outcome: 'failed' },
      { slot: '2026-02-01T07:00:00.000Z', outcome: 'done' },
    ]);
    const output = join(root, 'upgraded');
    const claims = new LocalSlotClaims({ name: 'monthly', output }, state);
    // Before any scheduler ran (schedule --list): the former place answers.
    expect(await claims.last()).toMatchObject({ slot: '2026-02-01T07:00:00.000Z', outcome: 'done', host: 'old-host' });
    expect(await claims.handledUntil(at('2026-02-01T07:00:30Z'))).toEqual(at('2026-02-01T07:00:00Z'));
    // Carried over beside the reports: another machine, whose state folder never held it, sees the same.
    const elsewhere = new LocalSlotClaims({ name: 'monthly', output });
    expect(await elsewhere.handledUntil(at('2026-02-01T07:00:40Z'))).toEqual(at('2026-02-01T07:00:00Z'));
    expect((await elsewhere.claim(at('2026-02-01T07:00:00Z'), at('2026-02-01T07:00:40Z'))).kind).toBe('taken');
    expect(await elsewhere.last()).toMatchObject({ slot: '2026-02-01T07:00:00.000Z', outcome: 'done' });
  });

  it('a job whose last slot passed while nothing ran: handled until its last slot in the state folder, so the missed one is caught up', async () => {
    const state = formerClaims('weekly', '2025-11-03T09:00:00.000Z', [{ slot: '2026-02-02T08:00:00.000Z', outcome: 'done' }]);
    const claims = new LocalSlotClaims({ name: 'weekly', output: join(root, 'weekly') }, state);
    // A week later, the slot of 2026-02-09 went by while no scheduler ran: it is after what was handled.
    expect(await claims.handledUntil(at('2026-02-10T12:00:00Z'))).toEqual(at('2026-02-02T08:00:00Z'));
  });

  it('a job scheduled in the state folder that never fired keeps its first registration', async () => {
    const state = formerClaims('quiet', '2026-01-05T09:00:00.000Z', []);
    const claims = new LocalSlotClaims({ name: 'quiet', output: join(root, 'quiet') }, state);
    expect(await claims.handledUntil(at('2026-03-01T00:00:00Z'))).toEqual(at('2026-01-05T09:00:00Z'));
    expect(await claims.last()).toBeUndefined();
  });

  it('a job new to both places is handled from now on', async () => {
    const state = mkdtempSync(join(root, 'state-'));
    const claims = new LocalSlotClaims({ name: 'fresh', output: join(root, 'fresh') }, state);
    expect(await claims.handledUntil(at('2026-03-01T00:00:00Z'))).toEqual(at('2026-03-01T00:00:00Z'));
  });

  it('once slots are claimed beside the reports, the state folder is not read again', async () => {
    const output = join(root, 'later');
    const state = formerClaims('daily', '2026-01-01T00:00:00.000Z', [{ slot: '2026-01-10T06:00:00.000Z', outcome: 'done' }]);
    const claims = new LocalSlotClaims({ name: 'daily', output }, state);
    await claims.handledUntil(at('2026-01-10T07:00:00Z'));
    const mine = await claims.claim(at('2026-01-11T06:00:00Z'), at('2026-01-11T06:00:00Z'));
    if (mine.kind !== 'mine') throw new Error('the next slot is free');
    await claims.finish({ ...mine.record, outcome: 'done', exitCode: 0, endedAt: '2026-01-11T06:00:05.000Z' });
    // A record the earlier version writes there later (a scheduler left un-upgraded) changes nothing.
    formerSlot(state, 'daily', '2026-01-12T06:00:00.000Z', 'done');
    expect(await new LocalSlotClaims({ name: 'daily', output }, state).handledUntil(at('2026-01-12T07:00:00Z'))).toEqual(at('2026-01-11T06:00:00Z'));
    expect(await claims.last()).toMatchObject({ slot: '2026-01-11T06:00:00.000Z' });
  });
});

