import { describe, expect, it } from 'vitest';
import { outsideSendWindow, parseSendWindow } from '../../src/orders/send-window.js';

describe('a send window', () => {
  const w = parseSendWindow('SMS,WHATSAPP mon-sat 08:00-20:00 Europe/Paris');

  it('holds its channels outside the hours and days, in its own time zone (summer and winter time)', () => {
    // Saturday 19:59 in Paris (UTC+2 in June), then 20:00.
    expect(outsideSendWindow(w, 'SMS', new Date('2026-06-06T17:59:00Z'))).toBeUndefined();
    expect(outsideSendWindow(w, 'SMS', new Date('2026-06-06T18:00:00Z'))).toMatch(/outside the send window \(SMS,WHATSAPP mon-sat 08:00-20:00 Europe\/Paris\)/);
    // Sunday noon: no day of the window.
    expect(outsideSendWindow(w, 'WHATSAPP', new Date('2026-06-07T10:00:00Z'))).toBeDefined();
    // Monday 08:00 in Paris in January is 07:00 UTC.
    expect(outsideSendWindow(w, 'SMS', new Date('2026-01-05T06:59:00Z'))).toBeDefined();
    expect(outsideSendWindow(w, 'SMS', new Date('2026-01-05T07:00:00Z'))).toBeUndefined();
    // Other channels are never held.
    expect(outsideSendWindow(w, 'MAIL', new Date('2026-06-07T10:00:00Z'))).toBeUndefined();
  });

  it('reads day lists, ranges across the week end, daily and all channels', () => {
    expect([...parseSendWindow('all fri-mon 09:00-17:30 UTC').days].sort()).toEqual([0, 1, 5, 6]);
    expect([...parseSendWindow('MAIL mon,wed,fri 09:00-10:00 UTC').days].sort()).toEqual([1, 3, 5]);
    const daily = parseSendWindow('all daily 00:00-24:00 UTC');
    expect(daily.days.size).toBe(7);
    expect(outsideSendWindow(daily, 'URL', new Date('2026-06-07T23:59:00Z'))).toBeUndefined();
  });

  it('refuses what it cannot read, naming the setting and the fix', () => {
    expect(() => parseSendWindow('SMS mon-sat 20:00-08:00 Europe/Paris')).toThrow(/--send-window "SMS mon-sat 20:00-08:00 Europe\/Paris": the window must end after it starts/);
    expect(() => parseSendWindow('FAX mon-sat 08:00-20:00')).toThrow(/"FAX" is not a channel/);
    expect(() => parseSendWindow('SMS someday 08:00-20:00')).toThrow(/"someday" is not a day/);
    expect(() => parseSendWindow('SMS mon-sat 8h-20h')).toThrow(/is not a time range such as 08:00-20:00/);
    expect(() => parseSendWindow('SMS mon-sat 08:00-20:00 Mars/Olympus')).toThrow(/"Mars\/Olympus" is not an IANA time zone/);
  });
});
