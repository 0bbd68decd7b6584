import { readFileSync } from 'node:fs';

/** The rows of a report paybatch wrote (no quoted commas in the columns these tests read). */
export function readReport(path: string): Record<string, string>[] {
  const [head, ...lines] = readFileSync(path, 'utf8').trim().split('\n');
  const cols = head!.split(',');
  return lines.map((l) => Object.fromEntries(splitCsv(l).map((v, i) => [cols[i], v])));
}

function splitCsv(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

export function byOrderId(rows: Record<string, string>[]): Record<string, Record<string, string>> {
  return Object.fromEntries(rows.map((r) => [r.orderId, r]));
}
