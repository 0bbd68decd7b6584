import { ConfigError } from '../errors/paybatch-error.js';
import type { ChannelType } from '../lyra/types.js';

/**
 * When buyers may be reached: `--send-window "SMS,WHATSAPP mon-sat 08:00-20:00 Europe/Paris"` (channels or `all`,
 * days, 24 h times, IANA zone). A row outside it is reported PENDING (PB_SEND_WINDOW) and sent by a later run.
 */
export interface SendWindow {
  text: string;
  channels?: ReadonlySet<ChannelType>;
  /** 0 = Sunday … 6 = Saturday. */
  days: ReadonlySet<number>;
  fromMinutes: number;
  toMinutes: number;
  timeZone: string;
}

export const SEND_WINDOW_CODE = 'PB_SEND_WINDOW';

const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const CHANNELS: readonly ChannelType[] = ['MAIL', 'SMS', 'WHATSAPP', 'INVOICE', 'URL'];

export function parseSendWindow(text: string, setting = '--send-window'): SendWindow {
  const fail = (why: string): never => {
    throw new ConfigError('PB_OPTION', `${setting} "${text}": ${why}; e.g. "SMS,WHATSAPP mon-sat 08:00-20:00 Europe/Paris"`);
  };
  const parts = text.trim().split(/\s+/);
  if (parts.length < 3 || parts.length > 4) fail('give channels, days, hours and optionally a time zone');
  const [channelText, dayText, hourText, zone] = parts as [string, string, string, string | undefined];
  let channels: Set<ChannelType> | undefined;
  if (channelText.toLowerCase() !== 'all') {
    channels = new Set();
    for (const c of channelText.toUpperCase().split(',')) {
      if (!CHANNELS.includes(c as ChannelType)) fail(`"${c}" is not a channel (${CHANNELS.join(', ')} or all)`);
      channels.add(c as ChannelType);
    }
  }
  const days = new Set<number>();
  const day = (d: string): number => {
    const i = DAY_NAMES.indexOf(d.slice(0, 3).toLowerCase());
    return i >= 0 ? i : fail(`"${d}" is not a day (mon, tue, … sun)`);
  };
  if (dayText.toLowerCase() === 'daily') for (let i = 0; i < 7; i++) days.add(i);
  else {
    for (const piece of dayText.split(',')) {
      const [a, b] = piece.split('-');
      if (b === undefined) days.add(day(a!));
      else for (let i = day(a!), end = day(b); ; i = (i + 1) % 7) {
        days.add(i);
        if (i === end) break;
      }
    }
  }
  const hours = /^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$/.exec(hourText) ?? fail(`"${hourText}" is not a time range such as 08:00-20:00`);
  const minutes = (h: string, m: string): number => {
    const v = Number(h) * 60 + Number(m);
    return Number(h) <= 24 && Number(m) < 60 && v <= 24 * 60 ? v : fail(`"${h}:${m}" is not a time of day`);
  };
  const fromMinutes = minutes(hours[1]!, hours[2]!);
  const toMinutes = minutes(hours[3]!, hours[4]!);
  if (fromMinutes >= toMinutes) fail('the window must end after it starts, within a day');
  const timeZone = zone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  try {
    new Intl.DateTimeFormat('en', { timeZone }).format(0);
  } catch {
    fail(`"${zone}" is not an IANA time zone (e.g. Europe/Paris)`);
  }
  return { text: text.trim(), ...(channels ? { channels } : {}), days, fromMinutes, toMinutes, timeZone };
}

/** Why a row of `channel` may not be sent at `now` (undefined: it may). */
export function outsideSendWindow(w: SendWindow, channel: ChannelType, now: Date): string | undefined {
  if (w.channels && !w.channels.has(channel)) return undefined;
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: w.timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(now);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  const weekday = DAY_NAMES.indexOf(get('weekday').slice(0, 3).toLowerCase());
  const minute = Number(get('hour')) * 60 + Number(get('minute'));
  if (w.days.has(weekday) && minute >= w.fromMinutes && minute < w.toMinutes) return undefined;
  return `outside the send window (${w.text}): not sent; a run inside the window sends it`;
}
