/**
 * How many local queue workers a `paybatch run` line asks for, read before yargs parses it: `--redis`/REDIS_URL and
 * `--workers N` (default 1); 0 unless the line plainly says queue mode (a --job file is read later). Pure.
 */
export function queueWorkersAsked(argv: readonly string[], env: Record<string, string | undefined>): number {
  let redis = Boolean(env.REDIS_URL);
  let workers = 1;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    const eq = a.indexOf('=');
    const [flag, inline] = eq === -1 ? [a, undefined] : [a.slice(0, eq), a.slice(eq + 1)];
    const value = inline ?? argv[i + 1];
    if (flag === '--redis') redis = Boolean(value) && !value!.startsWith('-');
    else if (flag === '--workers') {
      const n = Number(value);
      workers = Number.isInteger(n) && n >= 0 ? n : 1;
    }
  }
  return redis ? workers : 0;
}
