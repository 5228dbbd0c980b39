// JSON scanning without parsing: string ends through escapes, value extents, members cut out.
import { describe, expect, it } from "vitest";
import { stringEnd, stringText, valueEnd, withoutMember } from "./json-scan";

describe("json-scan", () => {
  it("finds where a string ends, through escaped quotes and backslashes", () => {
    const s = String.raw`{"a":"x\"y\\","b":1}`;
    const start = s.indexOf(String.raw`"x`);
    const end = stringEnd(s, start);
    expect(s.slice(start, end)).toBe(String.raw`"x\"y\\"`);
    expect(stringText(s, start, end)).toBe('x"y\\');
    expect(stringEnd('"never closes\\"', 0)).toBe(-1);
  });

  it("finds where any value ends, strings with brackets inside objects included", () => {
    const s = '{"o":{"k":"}]{[","n":[1,{"x":"\\""}]},"num":-1.5e3,"t":true}';
    const at = (key: string) => s.indexOf(`"${key}":`) + key.length + 3;
    expect(s.slice(at("o"), valueEnd(s, at("o")))).toBe('{"k":"}]{[","n":[1,{"x":"\\""}]}');
    expect(s.slice(at("num"), valueEnd(s, at("num")))).toBe("-1.5e3");
    expect(s.slice(at("t"), valueEnd(s, at("t")))).toBe("true");
    expect(valueEnd('{"o":{"k":1', 5)).toBe(-1);
  });

  it("cuts a member and its comma, first, middle, last or only, keeping valid JSON", () => {
    const cut = (s: string, key: string) => {
      const start = s.indexOf(`"${key}"`);
      const valueStart = s.indexOf(":", start) + 1;
      return withoutMember(s, start, valueEnd(s, valueStart.valueOf() + (s[valueStart] === " " ? 1 : 0)));
    };
    expect(cut('{"a":1,"b":2,"c":3}', "a")).toBe('{"b":2,"c":3}');
    expect(cut('{"a":1,"b":{"x":[]},"c":3}', "b")).toBe('{"a":1,"c":3}');
    expect(cut('{"a":1, "c": 3}', "c")).toBe('{"a":1}');
    expect(cut('{"a":1}', "a")).toBe("{}");
    for (const s of ['{"a":1,"b":2,"c":3}', '{ "a" : 1 , "b" : 2 }']) for (const k of ["a", "b"]) expect(() => JSON.parse(cut(s, k))).not.toThrow();
  });
});
