/** One measured line of the benchmark table. */
export interface BenchLine {
  row: string;
  subject: string;
  measured: string;
  target: string;
  /** null: a reference line, not a target. */
  pass: boolean | null;
  /** Absolute numbers behind the ratio (they depend on the machine and its load; the ratio is the result). */
  detail: string;
}

export function markdownTable(lines: BenchLine[]): string {
  const out = ['| row | subject | measured | target | result | detail |', '|---|---|---|---|---|---|'];
  for (const l of lines) out.push(`| ${l.row} | ${l.subject} | ${l.measured} | ${l.target} | ${verdict(l.pass, '**MISS**')} | ${l.detail} |`);
  return out.join('\n');
}

export function textTable(lines: BenchLine[]): string {
  const cols = [['row', 'subject', 'measured', 'target', 'result'], ...lines.map((l) => [l.row, l.subject, l.measured, l.target, verdict(l.pass, 'MISS')])];
  const widths = cols[0]!.map((_, i) => Math.max(...cols.map((c) => c[i]!.length)));
  return cols.map((c) => c.map((v, i) => v.padEnd(widths[i]!)).join('  ')).join('\n');
}

export const ratio = (x: number): string => x.toFixed(3);
export const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(0)} MB`;
export const perSecond = (x: number): string => `${x.toFixed(0)} rows/s`;

const verdict = (pass: boolean | null, miss: string): string => (pass === null ? '—' : pass ? 'pass' : miss);
