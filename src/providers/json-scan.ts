// Reads JSON text without parsing it: where a value ends, a string value's text, a member cut out.
// The stream fast path (openai-stream.ts) uses these on events it has no reason to parse whole.

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

export function skipSpace(s: string, i: number): number {
  while (i < s.length && isSpace(s.charCodeAt(i))) i++;
  return i;
}

/** `s[i]` is a quote: the index just past the string's closing quote, or -1 when it does not close. */
export function stringEnd(s: string, i: number): number {
  let from = i + 1;
  for (;;) {
    const q = s.indexOf('"', from);
    if (q === -1) return -1;
    let slashes = 0;
    while (s.charCodeAt(q - 1 - slashes) === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return q + 1;
    from = q + 1;
  }
}

/** The index just past the JSON value that starts at `i`, or -1 when it is cut short or not a value. */
export function valueEnd(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c === QUOTE) return stringEnd(s, i);
  if (c === OPEN_BRACE || c === OPEN_BRACKET) {
    let depth = 0;
    for (let j = i; j < s.length; j++) {
      const ch = s.charCodeAt(j);
      if (ch === QUOTE) {
        const end = stringEnd(s, j);
        if (end === -1) return -1;
        j = end - 1;
      } else if (ch === OPEN_BRACE || ch === OPEN_BRACKET) depth++;
      else if ((ch === CLOSE_BRACE || ch === CLOSE_BRACKET) && --depth === 0) return j + 1;
    }
    return -1;
  }
  // A number, true, false or null runs to the next delimiter.
  let j = i;
  for (; j < s.length; j++) {
    const ch = s.charCodeAt(j);
    if (ch === COMMA || ch === CLOSE_BRACE || ch === CLOSE_BRACKET || isSpace(ch)) break;
  }
  return j > i ? j : -1;
}

/** The text of the JSON string that starts at `start` and ends before `end` (escapes decoded), or undefined if it is not one. */
export function stringText(s: string, start: number, end: number): string | undefined {
  const raw = s.slice(start + 1, end - 1);
  if (!raw.includes("\\")) return raw;
  try {
    const text: unknown = JSON.parse(s.slice(start, end));
    return typeof text === "string" ? text : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `s` without the object member whose key starts at `keyStart` and whose value ends at `valueEnd`,
 * and without the comma that separated it from its neighbour: still valid JSON.
 */
export function withoutMember(s: string, keyStart: number, end: number): string {
  const after = skipSpace(s, end);
  if (s.charCodeAt(after) === COMMA) return s.slice(0, keyStart) + s.slice(skipSpace(s, after + 1));
  let before = keyStart - 1;
  while (before >= 0 && isSpace(s.charCodeAt(before))) before--;
  if (s.charCodeAt(before) === COMMA) return s.slice(0, before) + s.slice(end);
  return s.slice(0, keyStart) + s.slice(end);
}
