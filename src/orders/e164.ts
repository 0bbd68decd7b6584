import { Metadata, getCountries, getCountryCallingCode, type CountryCode, type PhoneNumberType } from 'libphonenumber-js/max';

/** One number type of a plan: its lengths and its pattern, compiled once (libphonenumber compiles it at every test). */
interface TypeTest {
  type: PhoneNumberType;
  lengths: readonly number[] | undefined;
  pattern: RegExp;
}

/** What libphonenumber would do with a plain `+CC…` number of one calling code, worked out once per code. */
interface Plan {
  /** Parse reads the digits after the code as they are unless this matches their start (a national prefix or carrier code it would strip). */
  strips: RegExp | undefined;
  /** The plan's national number pattern: a number that does not match it has no type. */
  general: RegExp;
  fixedLine: TypeTest | undefined;
  /** MOBILE beside a matching FIXED_LINE: undefined when the plan has no MOBILE pattern (then fixed and mobile are one). */
  mobile: TypeTest | undefined;
  /** The other types, in the order libphonenumber tries them. */
  others: TypeTest[];
}

/** The order of libphonenumber's getNumberType after FIXED_LINE. */
const NON_FIXED_LINE: readonly PhoneNumberType[] = ['MOBILE', 'PREMIUM_RATE', 'TOLL_FREE', 'SHARED_COST', 'VOIP', 'PERSONAL_NUMBER', 'PAGER', 'UAN', 'VOICEMAIL'];

/** The parts of libphonenumber's numbering plan read here; not in its typings, so each is checked before use. */
interface PlanInternals {
  nationalPrefixForParsing?: () => string | undefined;
  nationalNumberPattern?: () => string;
  type?: (t: PhoneNumberType) => { pattern(): string; possibleLengths(): number[] | undefined } | undefined;
}

let countriesOf: Map<string, CountryCode[]> | undefined;
/** Per calling code: its plan, or null where the shortcut must not answer (shared code, unknown metadata). */
const plans = new Map<string, Plan | null>();

function planOf(callingCode: string, countries: readonly CountryCode[]): Plan | null {
  const known = plans.get(callingCode);
  if (known !== undefined) return known;
  // A code shared by several countries (+1, +7, +44 …) makes parse pick the country by the number's patterns.
  const plan = countries.length === 1 ? compile(countries[0]!) : null;
  plans.set(callingCode, plan);
  return plan;
}

function compile(country: CountryCode): Plan | null {
  const metadata = new Metadata();
  metadata.selectNumberingPlan(country);
  const p = metadata.numberingPlan as unknown as PlanInternals | undefined;
  // If the library ever changes these, the shortcut stays off rather than guess.
  if (typeof p?.nationalPrefixForParsing !== 'function' || typeof p.nationalNumberPattern !== 'function' || typeof p.type !== 'function') return null;
  const entire = (pattern: string) => new RegExp(`^(?:${pattern})$`);
  const test = (type: PhoneNumberType): TypeTest | undefined => {
    const t = p.type!(type);
    // No pattern: libphonenumber's isNumberTypeEqualTo is false for it.
    return t && t.pattern() ? { type, lengths: t.possibleLengths(), pattern: entire(t.pattern()) } : undefined;
  };
  const prefix = p.nationalPrefixForParsing();
  return {
    strips: prefix ? new RegExp(`^(?:${prefix})`) : undefined,
    general: entire(p.nationalNumberPattern()),
    fixedLine: test('FIXED_LINE'),
    mobile: test('MOBILE'),
    others: NON_FIXED_LINE.map(test).filter((t): t is TypeTest => t !== undefined),
  };
}

function byCallingCode(): Map<string, CountryCode[]> {
  const map = new Map<string, CountryCode[]>();
  for (const country of getCountries()) {
    const code = getCountryCallingCode(country);
    map.set(code, [...(map.get(code) ?? []), country]);
  }
  return map;
}

const matches = (t: TypeTest | undefined, national: string): boolean =>
  t !== undefined && (t.lengths === undefined || t.lengths.includes(national.length)) && t.pattern.test(national);

/** libphonenumber's getNumberType, step for step, on the compiled plan. */
function typeOf(national: string, plan: Plan): PhoneNumberType | undefined {
  if (!plan.general.test(national)) return undefined;
  if (matches(plan.fixedLine, national)) return !plan.mobile || matches(plan.mobile, national) ? 'FIXED_LINE_OR_MOBILE' : 'FIXED_LINE';
  return plan.others.find((t) => matches(t, national))?.type;
}

const PLAIN = /^\+[1-9]\d{6,14}$/;

/**
 * `+` and digits, read without libphonenumber's general parser (most of an SMS row's cost) when the parser provably
 * reads it the same way; else undefined and the caller asks the parser (e164.test.ts compares both).
 */
export function plainE164(text: string): { number: string; type: PhoneNumberType } | undefined {
  const number = text.includes(' ') ? text.replace(/ /g, '') : text;
  if (!PLAIN.test(number)) return undefined;
  countriesOf ??= byCallingCode();
  // Calling codes are prefix-free (ITU E.164): the first one found is the only one, as in libphonenumber.
  for (let end = 2; end <= 4; end++) {
    const code = number.slice(1, end);
    const countries = countriesOf.get(code);
    if (!countries) continue;
    const plan = planOf(code, countries);
    const national = number.slice(end);
    if (!plan || plan.strips?.test(national)) return undefined;
    const type = typeOf(national, plan);
    return type ? { number, type } : undefined;
  }
  return undefined;
}
