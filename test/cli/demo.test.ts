import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'paybatch-demo-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('paybatch demo (the README\'s first command)', () => {
  it('runs the samples through the built-in sandbox with no credentials and no Redis, and shows the promises hold', async () => {
    const r = await runCli(['demo', '--dir', dir, '--latency', '5'], {
      env: { PAYBATCH_PASSWORD: undefined, PAYBATCH_SHOP_ID: undefined, PAYBATCH_API_URL: undefined, PAYBATCH_PLATFORM: undefined, REDIS_URL: undefined },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('requests sent this time: 0');
    expect(r.stdout).toContain('at most 1 order per invoice');
    const report = parse(await readFile(join(dir, 'invoices.report.csv')), { columns: true, bom: true }) as Record<string, string>[];
    const by = Object.fromEntries(report.map((x) => [x.invoice, x]));
    expect(report).toHaveLength(20);
    expect(by['INV-2025-0004']).toMatchObject({ status: 'CREATED', attempts: '2' });
    expect(by['INV-2025-0009']).toMatchObject({ status: 'UNCERTAIN', errorCode: 'PB_RESET' });
    expect(report.filter((x) => x.status === 'CREATED')).toHaveLength(19);
    const errors = parse(await readFile(join(dir, 'errors.report.csv')), { columns: true, bom: true }) as Record<string, string>[];
    expect(errors.filter((x) => x.status === 'INVALID').length).toBeGreaterThan(20);
  });

  it('without --dir it leaves no folder behind in the temporary directory', async () => {
    const r = await runCli(['demo', '--latency', '1'], {
      env: { TMPDIR: dir, PAYBATCH_PASSWORD: undefined, PAYBATCH_SHOP_ID: undefined, PAYBATCH_API_URL: undefined, PAYBATCH_PLATFORM: undefined, REDIS_URL: undefined },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`reports in ${dir}/paybatch-demo-`);
    expect((await readdir(dir)).filter((f) => f.startsWith('paybatch-'))).toEqual([]);
  });
});
