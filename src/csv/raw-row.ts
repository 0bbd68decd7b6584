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
}
