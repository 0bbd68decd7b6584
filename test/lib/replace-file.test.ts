import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { replaceFile } from '../../src/lib/replace-file.js';
import { tempFiles } from '../support/temp-files.js';

const { dir, fileWith } = tempFiles('paybatch-replace-');

describe('a finished report takes the place of the last one', () => {
  it('given last run\'s report, the new one replaces it and its temporary name is gone', async () => {
    const to = await fileWith('invoices.report.csv', 'old report\n');
    const from = await fileWith('invoices.report.csv.partial', 'new report\n');
    await replaceFile(from, to);
    expect(readFileSync(to, 'utf8')).toBe('new report\n');
    expect(existsSync(from)).toBe(false);
  });

  it('given no report yet, the new one is moved there', async () => {
    const from = await fileWith('first.report.csv.partial', 'first\n');
    const to = join(dir(), 'first.report.csv');
    await replaceFile(from, to);
    expect(readFileSync(to, 'utf8')).toBe('first\n');
  });
});
