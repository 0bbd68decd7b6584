/**
 * Where a command's outputs go by default: beside the input, named after it (`invoices.csv` → `invoices.report.csv`;
 * a workbook's reports are CSV files too).
 */
export function siblingPath(file: string, suffix: string): string {
  const m = file.match(/^(.*)\.(csv|txt|tsv|xlsx|xlsm)$/i);
  if (!m) return `${file}.${suffix}.csv`;
  return `${m[1]}.${suffix}.${/^xls/i.test(m[2]!) ? 'csv' : m[2]}`;
}

/** The files of a batch report (`run`, `report BATCH`): the report, the rows to fix, the JSON summary. */
export interface BatchReportFiles {
  report: string;
  toFix: string;
  summary: string;
}

/** The default files of a batch report for the input `named`: `invoices.report.csv`, `invoices.tofix.csv`, `invoices.report.json`. */
export function defaultBatchReportFiles(named: string): BatchReportFiles {
  const report = siblingPath(named, 'report');
  return { report, toFix: siblingPath(named, 'tofix'), summary: `${report.replace(/\.(csv|txt|tsv)$/i, '')}.json` };
}
