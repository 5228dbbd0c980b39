// CSV cells: RFC 4180 quoting survives a round trip; text that a spreadsheet would run is neutralised.
import { describe, expect, it } from "vitest";
import { csvCell, csvRow, parseCsv } from "./csv";

describe("csvCell", () => {
  it("quotes a cell holding a comma, a quote or a line break, doubling quotes", () => {
    expect(csvCell("plain")).toBe("plain");
    expect(csvCell("a,b")).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell("line1\nline2")).toBe('"line1\nline2"');
    expect(csvCell("cr\rhere")).toBe('"cr\rhere"');
  });

  it("writes null as empty, numbers and booleans bare, objects as JSON text", () => {
    expect([null, undefined, 0, -42, 12n, true].map(csvCell)).toEqual(["", "", "0", "-42", "12", "true"]);
    expect(csvCell({ a: [1, "x,y"] })).toBe('"{""a"":[1,""x,y""]}"');
  });

  it("prefixes text that starts like a formula, but not negative numbers", () => {
    expect(csvCell("=HYPERLINK(\"http://evil\")")).toBe('"\'=HYPERLINK(""http://evil"")"');
    expect(["+1", "-1", "@SUM(A1)", "\tx"].map(csvCell)).toEqual(["'+1", "'-1", "'@SUM(A1)", "'\tx"]);
    expect(csvCell(-1)).toBe("-1");
  });

  it("prefixes formulas hidden behind leading spaces, no-break spaces, controls or full-width signs", () => {
    const hostile = [
      " =1+1", "   +1", "\u00a0=HYPERLINK(\"http://evil\")", "\u3000=1", "\ufeff=1", "\u200b@SUM(A1)", " \t=1", "\n=1", "\0x",
      "＝1+1", "＋1", "－1", "＠SUM(A1)", " ＝1", "\u00a0＠x", "﹦1", "﹢1", "﹣1", "﹫x",
    ];
    for (const text of hostile) expect(parseCsv(csvCell(text))[0]![0], JSON.stringify(text)).toBe(`'${text}`);
    // Ordinary text, including text with a sign later on or leading spaces before a word, is left alone.
    for (const text of [" hello", "a=b", "x+y", "\u00a0note", "ＡＢＣ", "e-mail", "1-2", "'quoted"]) expect(csvCell(text)).toBe(text);
  });
});

describe("csvRow and parseCsv", () => {
  it("round-trips awkward values, one row per record even with embedded CRLF", () => {
    const values = ['x,"y"\r\nz', "", "simple", 'only "quotes"', "trailing,"];
    const text = csvRow(["h1", "h2", "h3", "h4", "h5"]) + csvRow(values);
    expect(text.endsWith("\r\n")).toBe(true);
    expect(parseCsv(text)).toEqual([["h1", "h2", "h3", "h4", "h5"], values]);
  });
});
