import { Metadata, PhoneNumber, getCountries, getCountryCallingCode, type CountryCode, type PhoneNumberType } from 'libphonenumber-js/max';

/** What libphonenumber's parse would do with a plain `+CC…` number of one calling code, worked out once per code. */
interface Plan {
  /** Parse reads the digits after the code as they are unless this matches their start (a national prefix or carrier code it would strip). */
  strips: RegExp | undefined;
}

let countriesOf: Map<string, CountryCode[]> | undefined;
/** Per calling code: its plan, or null where the shortcut must not answer (shared or non-geographic code, unknown metadata). */
const plans = new Map<string, Plan | null>();

function planOf(callingCode: string): Plan | null {
  const known = plans.get(callingCode);
  if (known !== undefined) return known;
  countriesOf ??= byCallingCode();
  const countries = countriesOf.get(callingCode);
  let plan: Plan | null = null;
  // A code shared by several countries (+1, +7, +44 …) makes parse pick the country by the number's patterns.
  if (countries?.length === 1) {
    const metadata = new Metadata();
    metadata.selectNumberingPlan(countries[0]!);
    // Not in the library's typings; if it is ever gone, the shortcut stays off rather than guess.
    const numberingPlan = metadata.numberingPlan as unknown as { nationalPrefixForParsing?: () => string | undefined } | undefined;
    if (typeof numberingPlan?.nationalPrefixForParsing === 'function') {
      const prefix = numberingPlan.nationalPrefixForParsing();
      plan = { strips: prefix ? new RegExp(`^(?:${prefix})`) : undefined };
    }
  }
  plans.set(callingCode, plan);
  return plan;
}

function byCallingCode(): Map<string, CountryCode[]> {
  const map = new Map<string, CountryCode[]>();
  for (const country of getCountries()) {
    const code = getCountryCallingCode(country);
    map.set(code, [...(map.get(code) ?? []), country]);
  }
  return map;
}

const PLAIN = /^\+[1-9]\d{6,14}$/;

/**
 * A number already written as `+` and digits (spaces allowed), read without libphonenumber's general parser — which
 * extracts, normalises and copies options for any text a person may type, ~5 µs a number, most of an SMS row's cost.
 * Answers only when the number is valid (it has a type) and the parser provably reads it the same way: one country
 * for its calling code and no national prefix at the start of the digits after it. Everything else is undefined, and
 * the caller asks the parser. `test/orders/e164.test.ts` compares both on every country's numbers.
 */
export function plainE164(text: string): { p: PhoneNumber; type: PhoneNumberType } | undefined {
  const digits = text.includes(' ') ? text.replace(/ /g, '') : text;
  if (!PLAIN.test(digits)) return undefined;
  let p: PhoneNumber;
  try {
    p = new PhoneNumber(digits);
  } catch {
    return undefined; // no such calling code: the parser says why
  }
  const plan = planOf(p.countryCallingCode);
  if (!plan || plan.strips?.test(p.nationalNumber)) return undefined;
  const type = p.getType();
  return type ? { p, type } : undefined;
}
