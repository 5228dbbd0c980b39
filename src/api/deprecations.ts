// Deprecated routes and fields, announced from one table (docs/api/deprecations.json; the policy is
// docs/api/versioning.md): every answer of a deprecated operation carries `Deprecation` (RFC 9745, the
// date it was deprecated), `Sunset` (RFC 8594, from when it may be gone) and a `Link` to what replaces
// it, and the OpenAPI document marks the operation or field `deprecated`. scripts/api-compat.mjs reads the
// same table: a route or field leaves the document only after its sunset.
import type { MiddlewareHandler } from "hono";
import table from "../../docs/api/deprecations.json";

export interface Deprecation {
  /** As in the OpenAPI document: "GET /admin/v1/tenants/{id}". */
  operation: string;
  /** A field of it ("request.body.name", "response.200.body.data[].route"); absent when the whole operation is deprecated. */
  field?: string;
  /** YYYY-MM-DD (UTC): when it was deprecated. */
  deprecated: string;
  /** YYYY-MM-DD (UTC): from when it may be removed (at least 180 days later, unless `immediate`). */
  sunset: string;
  /** What to use instead: a sentence, or an absolute URL (then also sent as the deprecation Link). */
  replacement: string;
  /** Only for a security or billing fix that had to tighten what is accepted at once: why. */
  immediate?: string;
}

export const DEPRECATIONS: readonly Deprecation[] = table as Deprecation[];

interface Announcement {
  method: string;
  pattern: RegExp;
  headers: [string, string][];
}

const dayMs = (day: string) => Date.parse(`${day}T00:00:00Z`);

/** One announcement per operation: the earliest deprecation and sunset among its entries. */
export function announcements(entries: readonly Deprecation[]): Announcement[] {
  const byOperation = new Map<string, Deprecation[]>();
  for (const e of entries) if (e.immediate === undefined) byOperation.set(e.operation, [...(byOperation.get(e.operation) ?? []), e]);
  return [...byOperation].map(([operation, list]) => {
    const [method, path] = operation.split(" ") as [string, string];
    const deprecated = Math.min(...list.map((e) => dayMs(e.deprecated)));
    const sunset = Math.min(...list.map((e) => dayMs(e.sunset)));
    const links = list.filter((e) => /^https:\/\//.test(e.replacement)).map((e) => `<${e.replacement}>; rel="deprecation"`);
    const headers: [string, string][] = [
      ["deprecation", `@${deprecated / 1000}`],
      ["sunset", new Date(sunset).toUTCString()],
      ...(links.length > 0 ? [["link", [...new Set(links)].join(", ")] as [string, string]] : []),
    ];
    const source = path.split(/\{[^}]+\}/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("[^/]+");
    return { method, pattern: new RegExp(`^${source}$`), headers };
  });
}

/** Middleware for the whole app: the headers on every answer of a deprecated operation, errors included. */
export function deprecationHeaders(entries: readonly Deprecation[] = DEPRECATIONS): MiddlewareHandler {
  const list = announcements(entries);
  if (list.length === 0) return function noDeprecations(_c, next) {
    return next();
  };
  return async function announceDeprecations(c, next) {
    await next();
    const found = list.find((a) => a.method === c.req.method && a.pattern.test(c.req.path));
    if (!found) return;
    // A response passed through from fetch() has immutable headers: copy it (the body still streams).
    try {
      for (const [name, value] of found.headers) c.res.headers.set(name, value);
    } catch {
      const res = new Response(c.res.body, c.res);
      for (const [name, value] of found.headers) res.headers.set(name, value);
      c.res = res;
    }
  };
}

type Json = Record<string, any>;

/** Marks the table's operations and fields `deprecated: true` in a generated OpenAPI document (in place). */
export function markDeprecated(doc: Json, entries: readonly Deprecation[] = DEPRECATIONS): void {
  for (const e of entries) {
    if (e.immediate !== undefined) continue;
    const [method, path] = e.operation.split(" ") as [string, string];
    const op = doc.paths?.[path]?.[method.toLowerCase()];
    if (!op) continue;
    if (!e.field) {
      op.deprecated = true;
      continue;
    }
    const [side, where, ...rest] = e.field.split(/\.|(?=\[\])/);
    if (side === "request" && where !== "body") {
      const param = (op.parameters ?? []).find((p: Json) => p.in === where && p.name === rest[0]);
      if (param) param.deprecated = true;
      continue;
    }
    const root = side === "request" ? op.requestBody?.content?.["application/json"] : op.responses?.[where!]?.content?.["application/json"];
    const steps = side === "request" ? rest : rest.slice(1);
    if (root) markField(doc, root, "schema", steps);
  }
}

/** Follows `steps` (property names and "[]") from holder[key] through $refs and sets `deprecated` on the last schema. */
function markField(doc: Json, holder: Json, key: string, steps: string[]): void {
  const schema = deref(doc, holder[key]);
  if (!schema) return;
  if (steps.length === 0) {
    holder[key] = holder[key].$ref ? { ...holder[key], deprecated: true } : { ...schema, deprecated: true };
    return;
  }
  const [step, ...rest] = steps as [string, ...string[]];
  const parts = [schema, ...(schema.allOf ?? []), ...(schema.anyOf ?? []), ...(schema.oneOf ?? [])].map((part) => deref(doc, part));
  for (const part of parts) {
    if (!part) continue;
    if (step === "[]" && part.items) markField(doc, part, "items", rest);
    else if (part.properties?.[step]) markField(doc, part.properties, step, rest);
  }
}

function deref(doc: Json, schema: Json | undefined): Json | undefined {
  let s = schema;
  for (let i = 0; s?.$ref && i < 32; i++) s = doc.components?.schemas?.[String(s.$ref).replace("#/components/schemas/", "")];
  return s;
}
