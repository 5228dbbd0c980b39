// A strict reader of the Prometheus text format (0.0.4): checks every line's grammar and returns the
// samples by family. Used by tests and by anything that reads /internal/v1/metrics back (the dashboard).

export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedFamily {
  name: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help?: string;
  samples: ParsedSample[];
}

export type ParseResult = { ok: true; families: Map<string, ParsedFamily> } | { ok: false; line: number; reason: string };

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

function parseValue(text: string): number | undefined {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return undefined;
  return Number(text);
}

/** Reads `{a="x",b="y"}` starting at `start` (the `{`); returns the labels and the index after `}`. */
function parseLabels(text: string, start: number): { labels: Record<string, string>; end: number } | string {
  const labels: Record<string, string> = {};
  let i = start + 1;
  while (i < text.length && text[i] !== "}") {
    const eq = text.indexOf("=", i);
    if (eq < 0) return "label without '='";
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name)) return `bad label name '${name}'`;
    if (name in labels) return `duplicate label '${name}'`;
    if (text[eq + 1] !== '"') return "label value must be quoted";
    let value = "";
    let j = eq + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === "\\") {
        const next = text[++j];
        if (next === "n") value += "\n";
        else if (next === "\\" || next === '"') value += next;
        else return "bad escape in label value";
      } else value += text[j];
    }
    if (j >= text.length) return "unterminated label value";
    labels[name] = value;
    i = j + 1;
    if (text[i] === ",") i++;
    else if (text[i] !== "}") return "expected ',' or '}' after a label";
  }
  if (text[i] !== "}") return "unterminated label set";
  return { labels, end: i + 1 };
}

/** The family a sample belongs to: itself, or its histogram/summary base name. */
function familyOf(name: string, families: Map<string, ParsedFamily>): ParsedFamily | undefined {
  const own = families.get(name);
  if (own) return own;
  const base = name.replace(/_(bucket|sum|count)$/, "");
  const parent = families.get(base);
  return parent && (parent.type === "histogram" || parent.type === "summary") ? parent : undefined;
}

export function parseExposition(text: string): ParseResult {
  const families = new Map<string, ParsedFamily>();
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  for (const [index, raw] of lines.entries()) {
    const lineNo = index + 1;
    const bad = (reason: string): ParseResult => ({ ok: false, line: lineNo, reason });
    if (raw.trim() === "") continue;
    if (raw.startsWith("#")) {
      const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(raw);
      if (!meta) continue; // a plain comment
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (!NAME.test(name)) return bad(`bad metric name '${name}'`);
      const entry = families.get(name) ?? { name, type: "untyped" as const, samples: [] };
      if (kind === "TYPE") {
        if (!TYPES.has(rest)) return bad(`unknown type '${rest}'`);
        if (families.has(name) && (families.get(name)!.samples.length > 0 || families.get(name)!.type !== "untyped")) return bad(`TYPE for ${name} repeated or after its samples`);
        entry.type = rest as ParsedFamily["type"];
      } else entry.help = rest;
      families.set(name, entry);
      continue;
    }
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(raw);
    if (!nameMatch) return bad("line does not start with a metric name");
    const name = nameMatch[0];
    let rest = raw.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith("{")) {
      const parsed = parseLabels(rest, 0);
      if (typeof parsed === "string") return bad(parsed);
      labels = parsed.labels;
      rest = rest.slice(parsed.end);
    }
    const parts = rest.split(" ");
    if (parts[0] !== "" || parts.length < 2 || parts.length > 3) return bad("expected ' value [timestamp]'");
    const value = parseValue(parts[1]!);
    if (value === undefined) return bad(`bad value '${parts[1]}'`);
    if (parts[2] !== undefined && !/^-?\d+$/.test(parts[2])) return bad(`bad timestamp '${parts[2]}'`);
    const family = familyOf(name, families);
    if (!family) return bad(`sample ${name} has no TYPE line before it`);
    family.samples.push({ name, labels, value });
  }
  return { ok: true, families };
}

/** Sums a family's samples whose labels match every given label. */
export function sumSamples(family: ParsedFamily | undefined, match: Record<string, string> = {}, name = family?.name): number {
  if (!family) return 0;
  return family.samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** Decodes an encoded label set (`a="x",b="y"`, as stored by the metrics object) into its values. */
export function decodeLabels(encoded: string): Record<string, string> {
  if (encoded === "") return {};
  const parsed = parseLabels(`{${encoded}}`, 0);
  if (typeof parsed === "string") throw new TypeError(`bad label set: ${parsed}`);
  return parsed.labels;
}
