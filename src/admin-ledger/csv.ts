// CSV writing per RFC 4180 (CRLF rows; a cell with a comma, quote, CR or LF is quoted, quotes doubled),
// with spreadsheet formula injection neutralised in text cells (OWASP "CSV injection").

/**
 * Text a spreadsheet would run as a formula is prefixed with `'`, so it is shown, never evaluated (OWASP
 * "CSV injection", ASVS 1.2.10): a cell starting with tab, CR, LF or NUL, or whose first character after
 * any leading whitespace (space, no-break space, ideographic space), controls, BOM or zero-width
 * characters is `=`, `+`, `-`, `@` or their full-width or small forms (`＝＋－＠`, `﹦﹢﹣﹫`), which
 * spreadsheets read as the ASCII ones.
 */
const CONTROL_START = /^[\t\r\n\0]/;
const SKIPPED_LEAD = /^[\s\p{Cc}\p{Cf}]+/u;
const FORMULA_START = /^[=+\-@\uFF1D\uFF0B\uFF0D\uFF20\uFE66\uFE62\uFE63\uFE6B]/;

function runsAsFormula(text: string): boolean {
  return CONTROL_START.test(text) || FORMULA_START.test(text.replace(SKIPPED_LEAD, ""));
}
const NEEDS_QUOTES = /[",\r\n]/;

export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") return String(value);
  let text = typeof value === "string" ? value : JSON.stringify(value);
  // Only text cells are neutralised: a negative number stays a number.
  if (typeof value === "string" && runsAsFormula(text)) text = `'${text}`;
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvRow(cells: readonly unknown[]): string {
  return `${cells.map(csvCell).join(",")}\r\n`;
}

/** Splits CSV text back into rows of cells (for tests and tools; quoted cells may span lines). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(cell);
      cell = "";
    } else if (ch === "\r" && text[i + 1] === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
      i++;
    } else cell += ch;
  }
  if (cell !== "" || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}
