import type { Options } from 'yargs';
import { ConfigError } from '../errors/paybatch-error.js';
import { FIELD_NAMES } from '../orders/fields.js';
import type { JudgeFileOptions } from '../orders/judge-file.js';
import { isTimeZone, machineTimeZone } from '../orders/dates.js';

/**
 * The options every command that reads an invoice file shares (`validate`, `run`): how to read it, how to map it, and
 * run-wide defaults. Spread into a yargs builder: `yargs.options(inputOptions)`.
 */
export const inputOptions = {
  map: {
    type: 'string',
    array: true,
    requiresArg: true,
    describe: `Read FIELD from the column HEADER (repeatable): --map orderId="N° facture". Fields: ${FIELD_NAMES.join(', ')}`,
  },
  currency: { type: 'string', requiresArg: true, describe: 'Currency for rows without one (ISO 4217: EUR, USD, XPF …)' },
  channel: { type: 'string', requiresArg: true, describe: 'Channel for rows without one: MAIL, SMS, WHATSAPP, INVOICE or URL' },
  locale: { type: 'string', requiresArg: true, describe: 'Language for rows without one (fr_FR, en_GB …); its country also reads national phone numbers' },
  'expires-in': { type: 'string', requiresArg: true, describe: 'Expiry for rows without an expiration date, from now: 30d, 12h, 2w (at most 90d)' },
  subject: { type: 'string', requiresArg: true, describe: 'E-mail subject for MAIL rows without one' },
  message: { type: 'string', requiresArg: true, describe: 'E-mail body (MAIL) or SMS text (SMS) for rows without one' },
  template: { type: 'string', requiresArg: true, describe: 'Back Office e-mail template for MAIL rows without one' },
  'receipt-email': { type: 'string', requiresArg: true, describe: 'paymentReceiptEmail for rows without one' },
  'tax-rate': { type: 'string', requiresArg: true, describe: 'Tax rate in percent for rows without one' },
  'phone-region': { type: 'string', requiresArg: true, describe: 'Country of phone numbers written without +CC (FR, GB …); default: the row\'s locale country' },
  tz: { type: 'string', requiresArg: true, describe: 'Time zone in which an expiration date without time ends (23:59:59); default: this machine\'s' },
  encoding: { type: 'string', requiresArg: true, describe: 'Input encoding (utf8, windows-1252 …); default: detected' },
  delimiter: { type: 'string', requiresArg: true, describe: 'Input delimiter (, ; | or tab); default: detected' },
  sheet: { type: 'string', requiresArg: true, describe: 'The sheet of an Excel workbook (.xlsx) to read; default: its first' },
  out: { type: 'string', requiresArg: true, describe: 'Report file (default: FILE.report.csv beside the input)' },
} as const satisfies Record<string, Options>;

/** The parsed values of `inputOptions` (yargs also gives camelCase twins; the kebab names are read here). */
export interface InputArgs {
  map?: string[];
  currency?: string;
  channel?: string;
  locale?: string;
  'expires-in'?: string;
  subject?: string;
  message?: string;
  template?: string;
  'receipt-email'?: string;
  'tax-rate'?: string;
  'phone-region'?: string;
  tz?: string;
  encoding?: string;
  delimiter?: string;
  sheet?: string;
  out?: string;
}

/** `["orderId=N° facture", "email=Courriel"]` → `{ orderId: "N° facture", email: "Courriel" }`; checks the shape only (fields are checked by buildMapping). */
export function parseMapFlags(values: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values ?? []) {
    const eq = v.indexOf('=');
    if (eq <= 0 || eq === v.length - 1) throw new ConfigError('PB_OPTION', `--map ${v}: write --map FIELD=HEADER, e.g. --map orderId="Invoice No"`);
    const field = v.slice(0, eq).trim();
    if (out[field] !== undefined) throw new ConfigError('PB_OPTION', `--map ${field} is given twice`);
    out[field] = v.slice(eq + 1);
  }
  return out;
}

/** Checks the shared options once and turns them into judgeFile's options; `now` is the run's clock. */
export function toJudgeFileOptions(argv: InputArgs, now: Date): JudgeFileOptions {
  // Checked by judgeFile, where libphonenumber's metadata is loaded anyway (not here: validate hands its reading
  // thread the file before loading the judging modules).
  const region = argv['phone-region']?.trim().toUpperCase();
  const timeZone = argv.tz ?? machineTimeZone();
  if (!isTimeZone(timeZone)) throw new ConfigError('PB_OPTION', `--tz ${argv.tz}: not a time zone; write an IANA name such as Europe/Paris or UTC`);
  return {
    now,
    encoding: argv.encoding,
    delimiter: argv.delimiter,
    ...(argv.sheet !== undefined ? { sheet: argv.sheet } : {}),
    map: parseMapFlags(argv.map),
    defaults: {
      currency: argv.currency,
      channel: argv.channel,
      locale: argv.locale,
      expiresIn: argv['expires-in'],
      subject: argv.subject,
      message: argv.message,
      template: argv.template,
      paymentReceiptEmail: argv['receipt-email'],
      taxRate: argv['tax-rate'],
    },
    phoneRegion: region,
    timeZone,
  };
}
