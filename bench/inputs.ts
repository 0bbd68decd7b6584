import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

/**
 * A realistic invoice export, written as a stream: the mix a finance team sends (mostly e-mail, some SMS and plain
 * links), quoted names with commas, French and British locales. `prefix` keeps orderIds unique per measurement, so a
 * sandbox or a ledger shared between runs never answers from an earlier one.
 */
export async function writeInvoices(file: string, rows: number, prefix: string): Promise<void> {
  const out = createWriteStream(file, { highWaterMark: 1 << 20 });
  const write = async (s: string): Promise<void> => {
    if (!out.write(s)) await once(out, 'drain');
  };
  await write('invoice,customer name,amount,currency,channel,email,phone,locale,subject\n');
  let chunk = '';
  for (let i = 1; i <= rows; i++) {
    chunk += line(i, prefix);
    if (chunk.length > 256 * 1024) {
      await write(chunk);
      chunk = '';
    }
  }
  await write(chunk);
  out.end();
  await once(out, 'finish');
}

function line(i: number, prefix: string): string {
  const id = `${prefix}-${String(i).padStart(7, '0')}`;
  const euros = 10 + ((i * 7919) % 500_000) / 100;
  const amount = euros.toFixed(2);
  const kind = i % 10;
  if (kind < 7) return `${id},"Client ${i}, SARL",${amount},EUR,MAIL,compta${i}@client${i % 997}.example.com,,fr_FR,Facture ${id}\n`;
  if (kind < 9) return `${id},Client ${i},${amount},EUR,SMS,,+336${String(10_000_000 + (i % 89_999_999)).slice(-8)},fr_FR,\n`;
  return `${id},Client ${i} Ltd,${amount},GBP,URL,,,en_GB,\n`;
}
