// The bare minimum of reading: a file stream through csv-parse, records counted — no encoding sniffing, mapping,
// validation or report. Plain JS (no transpiler). Timed by the caller as a whole process, like `paybatch validate`.
// usage: node csv-parse.mjs FILE [DELIMITER]
import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';

const [file, delimiter = ','] = process.argv.slice(2);
let records = 0;
for await (const _ of createReadStream(file).pipe(parse({ delimiter, relax_column_count: true, skip_empty_lines: true }))) records++;
process.stdout.write(`${JSON.stringify({ records })}\n`);
