import type { Mode } from './types.js';

/** TEST or PRODUCTION from the password prefix (`testpassword_…` / `prodpassword_…`); undefined if neither. */
export function modeOfPassword(password: string): Mode | undefined {
  if (password.startsWith('testpassword_')) return 'TEST';
  if (password.startsWith('prodpassword_')) return 'PRODUCTION';
  return undefined;
}
