import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseJobFile } from '../../src/cli/job-file.js';
import { runCli } from '../support/cli.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'paybatch-job-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a recurring batch defined in a job file', () => {
  it('reads file paths relative to the job file, whatever directory cron starts in', async () => {
    await mkdir(join(dir, 'jobs'));
    await mkdir(join(dir, 'exports'));
    await writeFile(join(dir, 'exports', 'march.csv'), 'Réf,Total\nM-1,10.00\nM-2,"1 234,50"\n');
    await writeFile(
      join(dir, 'jobs', 'march.json'),
      JSON.stringify({ description: 'monthly', schedule: '0 8 1 * *', file: '../exports/march.csv', map: { orderId: 'Réf', amount: 'Total' }, currency: 'EUR', channel: 'URL', rate: 5 }),
    );
    const r = await runCli(['validate', '--job', join(dir, 'jobs', 'march.json')], { cwd: tmpdir() });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = await readFile(join(dir, 'exports', 'march.validation.csv'), 'utf8');
    expect(report).toContain('M-2,"1 234,50",VALID');
    expect(report).toContain(',1234.50,EUR,URL,');
  });

  it('flags on the command line beat the job file', async () => {
    await writeFile(join(dir, 'a.csv'), 'invoice,amount\nA-1,10.00\n');
    await writeFile(join(dir, 'job.json'), JSON.stringify({ file: 'a.csv', currency: 'EUR', channel: 'URL' }));
    const r = await runCli(['validate', '--job', join(dir, 'job.json'), '--currency', 'JPY']);
    // 10.00 JPY has decimals a yen amount cannot have: the flag won.
    expect(r.code).toBe(1);
    expect(await readFile(join(dir, 'a.validation.csv'), 'utf8')).toContain('INT_009');
  });

  it('a broken or unknown job file is one clear line and exit 2', async () => {
    await writeFile(join(dir, 'bad.json'), '{"file": "a.csv",');
    const bad = await runCli(['validate', '--job', join(dir, 'bad.json')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bad\.json: not valid JSON/);
    await writeFile(join(dir, 'typo.json'), JSON.stringify({ file: 'a.csv', curency: 'EUR' }));
    const typo = await runCli(['validate', '--job', join(dir, 'typo.json')]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toBe(`paybatch: --job ${join(dir, 'typo.json')}: "curency" is not an option of this command: did you mean "currency"? (paybatch --help)\n`);
  });

  it('turns a map object into --map flags and drops the notes for people', () => {
    const p = join(tmpdir(), 'job-parse.json');
    return writeFile(p, JSON.stringify({ description: 'x', schedule: '* * * * *', map: { orderId: 'N°' }, rate: 3 })).then(() => {
      expect(parseJobFile(p)).toEqual({ map: ['orderId=N°'], rate: 3 });
      expect(parseJobFile(p, ['rate'])).toEqual({ map: ['orderId=N°'] });
    });
  });
});
