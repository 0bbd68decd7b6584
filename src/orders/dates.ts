/** Time-zone arithmetic with Intl only (no dependency): wall-clock time in a zone ↔ instant, and ISO-8601 with offset. */

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when `timeZone` is an IANA zone this Node knows (`Europe/Paris`, `UTC` …). */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The machine's zone, for `--tz`'s default. */
export function machineTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

function wallClock(instant: number, timeZone: string): { y: number; mo: number; d: number; h: number; mi: number; s: number } {
  const p: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(instant))) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return { y: p.year!, mo: p.month!, d: p.day!, h: p.hour!, mi: p.minute!, s: p.second! };
}

/** Offset of `timeZone` from UTC at `instant`, in minutes (Paris in winter: 60). */
export function offsetMinutes(instant: number, timeZone: string): number {
  const w = wallClock(instant, timeZone);
  return Math.round((Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi, w.s) - Math.floor(instant / 1000) * 1000) / 60_000);
}

/** The instant at which the wall clock of `timeZone` shows this time (a time skipped by DST moves forward with it). */
export function zonedInstant(y: number, mo: number, d: number, h: number, mi: number, s: number, timeZone: string): number {
  const asUtc = Date.UTC(y, mo - 1, d, h, mi, s);
  const first = asUtc - offsetMinutes(asUtc, timeZone) * 60_000;
  const second = asUtc - offsetMinutes(first, timeZone) * 60_000;
  return second;
}

/** `2026-12-31T23:59:59+01:00`: the instant as seen in `timeZone`, second precision. */
let lastIso = { instant: NaN, timeZone: '', text: '' };
export function isoWithOffset(instant: number, timeZone: string): string {
  // Every row of a run with --expires-in asks for the same instant.
  if (lastIso.instant === instant && lastIso.timeZone === timeZone) return lastIso.text;
  const text = formatIso(instant, timeZone);
  lastIso = { instant, timeZone, text };
  return text;
}

function formatIso(instant: number, timeZone: string): string {
  const off = offsetMinutes(instant, timeZone);
  const w = wallClock(instant, timeZone);
  const p2 = (n: number) => String(n).padStart(2, '0');
  const sign = off < 0 ? '-' : '+';
  const a = Math.abs(off);
  return `${w.y}-${p2(w.mo)}-${p2(w.d)}T${p2(w.h)}:${p2(w.mi)}:${p2(w.s)}${sign}${p2(Math.floor(a / 60))}:${p2(a % 60)}`;
}

export type DateReading = { ok: true; instant: number; dateOnly: boolean } | { ok: false; message: string };

/**
 * Reads an expiration: a date alone is the END of that day in `timeZone`, a date-time without offset is wall-clock
 * there, with `Z`/offset exact. d/m/y only when it cannot be read as m/d: `05/06/2026` is refused, not guessed.
 */
export function readDate(text: string, timeZone: string): DateReading {
  const s = text.trim();
  const iso = s.match(/^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?)?$/i);
  let y: number, mo: number, d: number;
  let h = 23, mi = 59, sec = 59;
  let dateOnly = true;
  let zone: string | undefined;
  if (iso) {
    [y, mo, d] = [Number(iso[1]), Number(iso[2]), Number(iso[3])];
    if (iso[4] !== undefined) {
      dateOnly = false;
      [h, mi, sec] = [Number(iso[4]), Number(iso[5]), Number(iso[6] ?? 0)];
      zone = iso[7];
    }
  } else {
    const dm = s.match(/^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$/);
    if (!dm) return { ok: false, message: `the expiration date "${s}" cannot be read: write it as YYYY-MM-DD (e.g. 2026-12-31)` };
    const a = Number(dm[1]);
    const b = Number(dm[2]);
    y = Number(dm[3]);
    if (a > 12 && b <= 12) [d, mo] = [a, b];
    else if (b > 12 && a <= 12) [mo, d] = [a, b];
    else if (a === b) [d, mo] = [a, b];
    else return { ok: false, message: `the expiration date "${s}" can be read as day/month or month/day: write it as YYYY-MM-DD` };
  }
  const check = new Date(Date.UTC(y, mo - 1, d));
  if (mo < 1 || mo > 12 || check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || h > 23 || mi > 59 || sec > 59) {
    return { ok: false, message: `the expiration date "${s}" is not a real date or time` };
  }
  if (zone) {
    const z = zone.toUpperCase() === 'Z' ? 0 : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(-2)));
    return { ok: true, instant: Date.UTC(y, mo - 1, d, h, mi, sec) - z * 60_000, dateOnly };
  }
  return { ok: true, instant: zonedInstant(y, mo, d, h, mi, sec, timeZone), dateOnly };
}
