/** One record of the input file, as read: raw cells, untouched. */
export interface RawRow {
  /** 0-based index of the data record (header excluded): the report's order. */
  index: number;
  /** 1-based line of the file where the record starts (a quoted field may span lines). */
  line: number;
  cells: string[];
  /**
   * The cells as one CSV record in the file's delimiter, as `formatCsvRecord` gives them, when the reader has it (the
   * off-thread reader does): the report echoes it instead of formatting every cell again.
   */
  csv?: string;
  /**
   * Indexes of the cells that were numbers in a workbook (read-xlsx): their text is the number's own (`12.345`, a `.`
   * for the decimal point, no grouping), so an amount there is not ambiguous as the same text in a CSV would be.
   */
  numbers?: ReadonlySet<number>;
}
