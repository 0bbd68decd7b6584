import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { maskPii } from '../../src/log/mask.js';

describe('logs never show who the buyer is', () => {
  it('masks e-mail addresses and phone numbers but keeps amounts and invoice ids', () => {
    const line = 'INV-2026-0042 sent to jeanne.dupont@example.com and +33 6 12 34 56 78 for 1234.56 EUR';
    const masked = maskPii(line);
    expect(masked).not.toContain('jeanne.dupont');
    expect(masked).not.toContain('12 34 56');
    expect(masked).toContain('INV-2026-0042');
    expect(masked).toContain('1234.56 EUR');
    expect(masked).toMatch(/\*+78/);
  });

  it('masks PII inside structured fields and drops anything named password', async () => {
    const sink = new PassThrough();
    let out = '';
    sink.on('data', (d: Buffer) => (out += d.toString()));
    const log = createLogger({ destination: sink, level: 'info' });
    log.info({ recipient: 'buyer@example.org', phone: '+33612345678', password: 'testpassword_SECRET', orderId: 'A-1' }, 'order created for buyer@example.org');
    await new Promise((r) => setImmediate(r));
    expect(out).toContain('A-1');
    expect(out).not.toContain('buyer@example.org');
    expect(out).not.toContain('+33612345678');
    expect(out).not.toContain('testpassword_SECRET');
  });
});
