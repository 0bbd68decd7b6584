import { describe, expect, it } from 'vitest';
import { fingerprint } from '../../src/ledger/fingerprint.js';
import { defaultStateDir } from '../../src/ledger/state-dir.js';

describe('fingerprint of the body sent', () => {
  it('is the same whatever the key order, and undefined members do not count', () => {
    const a = fingerprint({ amount: 100, currency: 'EUR', orderId: 'INV-1', channelOptions: { channelType: 'MAIL', mailOptions: { recipient: 'a@b.c', subject: 'x' } } });
    const b = fingerprint({ channelOptions: { mailOptions: { subject: 'x', recipient: 'a@b.c' }, channelType: 'MAIL' }, orderId: 'INV-1', currency: 'EUR', amount: 100, locale: undefined });
    expect(a).toBe(b);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes when anything sent changes (an edited amount, recipient …)', () => {
    const base = { amount: 100, currency: 'EUR', orderId: 'INV-1' };
    expect(fingerprint(base)).not.toBe(fingerprint({ ...base, amount: 101 }));
    expect(fingerprint(base)).not.toBe(fingerprint({ ...base, metadata: { a: '1' } }));
  });
});

describe('default state directory', () => {
  it('PAYBATCH_STATE_DIR wins, then XDG_STATE_HOME/paybatch, then ~/.local/state/paybatch', () => {
    expect(defaultStateDir({ PAYBATCH_STATE_DIR: '/srv/paybatch', XDG_STATE_HOME: '/x' }, '/home/ann', 'linux')).toBe('/srv/paybatch');
    expect(defaultStateDir({ XDG_STATE_HOME: '/x' }, '/home/ann', 'linux')).toBe('/x/paybatch');
    expect(defaultStateDir({}, '/home/ann', 'linux')).toBe('/home/ann/.local/state/paybatch');
  });
});
