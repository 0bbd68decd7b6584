import { describe, expect, it } from 'vitest';
import { classifyErrorCode } from '../../src/lyra/classify.js';

describe('what an ERROR answer means for the order (docs/lyra-api.md §10)', () => {
  it('throttling and "transaction not created" are retry-safe', () => {
    expect(classifyErrorCode('PSP_106')).toBe('retry-safe');
    expect(classifyErrorCode('PSP_648')).toBe('retry-safe');
  });
  it('technical incidents whose advice is "read first" leave the outcome unknown', () => {
    for (const c of ['PSP_999', 'PSP_513', 'PSP_1001', 'PSP_1028', 'PSP_1044', 'PSP_9999']) expect(classifyErrorCode(c)).toBe('unknown');
  });
  it('validation, auth, state and unknown codes are permanent', () => {
    for (const c of ['INT_905', 'INT_009', 'PSP_1036', 'PSP_1005', 'PSP_1000', 'PSP_099', 'XYZ_123', '']) expect(classifyErrorCode(c)).toBe('permanent');
  });
});
