/**
 * Personal data in logs: e-mail addresses and phone numbers are masked so that a log shared with support
 * (or shipped to a log service) identifies a row without exposing the buyer.
 */

const EMAIL = /([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]{1,2})[A-Za-z0-9.-]*(\.[A-Za-z]{2,})/g;
// A phone number: optional +, then 8–15 digits possibly split by spaces, dots or dashes. Amounts and ids are
// shorter or carry letters, so they are left alone.
const PHONE = /(?<![\w-])(\+?)(\d[\d .-]{6,18}\d)(?![\w-])/g;

export function maskEmail(text: string): string {
  return text.replace(EMAIL, (_m, first: string, dom: string, tld: string) => `${first}***@${dom}***${tld}`);
}

export function maskPhone(text: string): string {
  return text.replace(PHONE, (m, plus: string, body: string) => {
    const digits = body.replace(/\D/g, '');
    if (digits.length < 8 || digits.length > 15) return m;
    return `${plus}${'*'.repeat(digits.length - 2)}${digits.slice(-2)}`;
  });
}

/** Masks every e-mail address and phone number found in `text`. */
export function maskPii(text: string): string {
  return maskPhone(maskEmail(text));
}
