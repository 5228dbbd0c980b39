// The compatibility check of the /v1 API (docs/api/versioning.md): what a client written against the
// baseline document (docs/api/openapi.baseline.json, the last released contract) relies on must still
// hold in the current one (docs/api/openapi.json), unless docs/api/deprecations.json records its
// deprecation and its sunset date has passed. Additions are always allowed.
//
// Rules, per operation ("GET /admin/v1/tenants/{id}"): it must still exist with its operationId. What
// the client sends (parameters, JSON body) may only accept more: no field removed (inputs are strict, so a
// removed field becomes a 400), no new required field or parameter, no optional one made required, no type,
// enum value or bound taken away. What the client receives (each documented 2xx answer) may only promise
// more: no field removed, none made optional, no type added to a field (a client may switch on it); new
// fields and new enum values may appear (clients must ignore what they do not know).
//
// `npm run api:baseline` moves the baseline to the current document, after this check passes.
// (Hand-written: the OpenAPI diff tools that would do this, oasdiff and openapi-changes, are Go binaries
// that do not install from npm here.)
import { copyFileSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const CURRENT = "docs/api/openapi.json";
export const BASELINE = "docs/api/openapi.baseline.json";
export const DEPRECATIONS = "docs/api/deprecations.json";
/** The shortest time between a deprecation and its sunset (the policy's promise). */
export const MIN_DEPRECATION_DAYS = 180;
const METHODS = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];

export const readJson = (file) => JSON.parse(readFileSync(path.join(ROOT, file), "utf8"));

/** Every operation of a document: "METHOD /path" -> the operation object. */
export function operationsOf(doc) {
  const out = new Map();
  for (const [p, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) if (item[method]) out.set(`${method.toUpperCase()} ${p}`, { ...item[method], parameters: [...(item.parameters ?? []), ...(item[method].parameters ?? [])] });
  }
  return out;
}

function resolve(doc, schema, seen) {
  let s = schema ?? {};
  while (s.$ref) {
    if (seen.has(s.$ref)) return { recursive: true };
    seen = new Set(seen).add(s.$ref);
    const name = s.$ref.replace("#/components/schemas/", "");
    const { $ref, ...siblings } = s;
    s = { ...doc.components?.schemas?.[name], ...siblings };
  }
  return { schema: s, seen };
}

/** A schema's branches (anyOf/oneOf) and parts (allOf), merged into one description: types, enum, properties, items, bounds. */
function describe(doc, schema, seen) {
  const r = resolve(doc, schema, seen);
  if (r.recursive) return { types: new Set(["any"]), enum: null, properties: new Map(), items: [], bounds: {}, seen };
  const s = r.schema;
  seen = r.seen;
  const branches = s.anyOf ?? s.oneOf;
  if (branches) {
    const parts = branches.map((b) => describe(doc, b, seen));
    const objects = parts.filter((p) => p.properties.size > 0);
    const properties = new Map();
    for (const part of objects) {
      for (const [name, prop] of part.properties) {
        const entry = properties.get(name) ?? { schemas: [], requiredIn: 0 };
        entry.schemas.push(...prop.schemas);
        if (prop.required) entry.requiredIn++;
        properties.set(name, entry);
      }
    }
    return {
      types: new Set(parts.flatMap((p) => [...p.types])),
      enum: parts.some((p) => p.enum === null) ? null : new Set(parts.flatMap((p) => [...p.enum])),
      properties: new Map([...properties].map(([name, e]) => [name, { schemas: e.schemas, required: e.requiredIn === objects.length }])),
      items: parts.flatMap((p) => p.items),
      bounds: {},
      seen,
    };
  }
  const own = { ...s };
  const properties = new Map();
  const required = new Set(s.required ?? []);
  for (const part of s.allOf ?? []) {
    const d = describe(doc, part, seen);
    for (const [name, prop] of d.properties) properties.set(name, prop);
    for (const t of d.types) if (t !== "any") own.type ??= t;
  }
  for (const [name, prop] of Object.entries(s.properties ?? {})) properties.set(name, { schemas: [prop], required: required.has(name) });
  let types = own.type === undefined ? [] : [own.type].flat();
  if ("const" in s) types = [s.const === null ? "null" : typeof s.const];
  if (types.length === 0 && properties.size > 0) types = ["object"];
  if (types.length === 0) types = ["any"];
  const values = s.enum ?? ("const" in s ? [s.const] : null);
  const bounds = {};
  for (const key of ["minimum", "exclusiveMinimum", "minLength", "minItems"]) if (typeof s[key] === "number") bounds[key] = { value: s[key], low: true };
  for (const key of ["maximum", "exclusiveMaximum", "maxLength", "maxItems"]) if (typeof s[key] === "number") bounds[key] = { value: s[key], low: false };
  return { types: new Set(types), enum: values ? new Set(values.map((v) => JSON.stringify(v))) : null, properties, items: s.items ? [s.items] : [], bounds, seen };
}

/** Flattens a schema into field paths ("body.messages[].role") with what each one promises. */
function fieldsOf(doc, schemas, prefix, required, out, seen = new Set(), depth = 0) {
  if (depth > 12) return out;
  const d = describe(doc, schemas.length === 1 ? schemas[0] : { anyOf: schemas }, seen);
  out.set(prefix, { types: d.types, enum: d.enum, required, bounds: d.bounds });
  for (const [name, prop] of d.properties) fieldsOf(doc, prop.schemas, `${prefix}.${name}`, prop.required, out, d.seen, depth + 1);
  if (d.items.length > 0) fieldsOf(doc, d.items, `${prefix}[]`, true, out, d.seen, depth + 1);
  return out;
}

function requestFields(doc, op) {
  const out = new Map();
  for (const p of op.parameters ?? []) fieldsOf(doc, [p.schema ?? {}], `request.${p.in}.${p.name}`, p.required === true, out);
  const body = resolve(doc, op.requestBody, new Set()).schema;
  const json = body?.content?.["application/json"];
  if (json) fieldsOf(doc, [json.schema ?? {}], "request.body", body.required === true, out);
  return out;
}

function responseFields(doc, op) {
  const out = new Map();
  for (const [status, response] of Object.entries(op.responses ?? {})) {
    if (!/^2\d\d$/.test(status)) continue;
    out.set(`response.${status}`, { types: new Set(["any"]), enum: null, required: true, bounds: {} });
    for (const media of Object.keys(response.content ?? {})) out.set(`response.${status}<${media}>`, { types: new Set(["any"]), enum: null, required: true, bounds: {} });
    const json = response.content?.["application/json"];
    if (json) fieldsOf(doc, [json.schema ?? {}], `response.${status}.body`, true, out);
  }
  return out;
}

const has = (set, value) => set.has("any") || set.has(value) || (value === "integer" && set.has("number"));
const parentOf = (field) => field.replace(/(\[\]|\.[^.[\]<]+|<[^>]+>)$/, "");

function compareRequest(before, after, report) {
  for (const [field, b] of before) {
    const a = after.get(field);
    if (!a) {
      if (!before.has(parentOf(field)) || after.has(parentOf(field))) report(field, "removed from the request (a client sending it is refused)");
      continue;
    }
    for (const t of b.types) if (!has(a.types, t)) report(field, `no longer accepts type ${t}`);
    if (b.enum && a.enum) for (const v of b.enum) if (!a.enum.has(v)) report(field, `no longer accepts ${v}`);
    if (!b.required && a.required) report(field, "became required");
    for (const [key, bound] of Object.entries(b.bounds)) {
      const now = a.bounds[key];
      if (!now || (bound.low ? now.value <= bound.value : now.value >= bound.value)) continue;
      report(field, `${key} tightened from ${bound.value} to ${now.value}`);
    }
    for (const [key, now] of Object.entries(a.bounds)) if (!b.bounds[key]) report(field, `gained ${key} ${now.value}`);
  }
  for (const [field, a] of after) {
    if (before.has(field) || !a.required) continue;
    const parent = parentOf(field);
    // A new required field inside a new optional object is fine; on an existing object it breaks every caller.
    if (field === "request.body" || !field.startsWith("request.body") || before.has(parent)) report(field, "is new and required");
  }
}

function compareResponse(before, after, report) {
  for (const [field, b] of before) {
    const a = after.get(field);
    if (!a) {
      if (!before.has(parentOf(field)) || after.has(parentOf(field))) report(field, "removed from the answer");
      continue;
    }
    if (b.required && !a.required) report(field, "may now be absent");
    for (const t of a.types) if (!has(b.types, t)) report(field, `may now be of type ${t}`);
  }
}

/** The breaking changes from `baseline` to `current`: { operation, field?, problem }. */
export function breakingChanges(baseline, current) {
  const out = [];
  const after = operationsOf(current);
  for (const [operation, b] of operationsOf(baseline)) {
    const report = (field, problem) => out.push({ operation, field, problem });
    const a = after.get(operation);
    if (!a) {
      report(undefined, "removed");
      continue;
    }
    if (b.operationId && a.operationId !== b.operationId) report("operationId", `renamed from ${b.operationId} to ${a.operationId ?? "nothing"}`);
    compareRequest(requestFields(baseline, b), requestFields(current, a), report);
    compareResponse(responseFields(baseline, b), responseFields(current, a), report);
  }
  return out;
}

const covers = (entry, change) =>
  entry.operation === change.operation && (entry.field === undefined || (change.field !== undefined && (change.field === entry.field || change.field.startsWith(`${entry.field}.`) || change.field.startsWith(`${entry.field}[]`) || change.field.startsWith(`${entry.field}<`))));

/** Breaking changes no deprecation allows yet: none recorded, or its sunset is still ahead. */
export function unallowedChanges(baseline, current, deprecations, today = new Date().toISOString().slice(0, 10)) {
  return breakingChanges(baseline, current).flatMap((change) => {
    const entry = deprecations.find((d) => covers(d, change));
    if (!entry) return [{ ...change, why: "no deprecation recorded in docs/api/deprecations.json" }];
    if (entry.sunset > today) return [{ ...change, why: `deprecated, but its sunset (${entry.sunset}) has not come` }];
    return [];
  });
}

/** Problems with the deprecations table itself (dates, lifetimes, what it names). */
export function deprecationProblems(deprecations, baseline) {
  const ops = operationsOf(baseline);
  const problems = [];
  const day = /^\d{4}-\d{2}-\d{2}$/;
  for (const d of deprecations) {
    const name = `${d.operation}${d.field ? ` ${d.field}` : ""}`;
    if (!day.test(d.deprecated ?? "") || !day.test(d.sunset ?? "")) problems.push(`${name}: deprecated and sunset must be YYYY-MM-DD`);
    else if (d.immediate !== undefined) {
      // A security or billing fix may tighten what is accepted at once; it says why, and is in the changelog.
      if (typeof d.immediate !== "string" || d.immediate.length < 10) problems.push(`${name}: immediate needs its reason`);
    } else if ((Date.parse(d.sunset) - Date.parse(d.deprecated)) / 86_400_000 < MIN_DEPRECATION_DAYS) {
      problems.push(`${name}: sunset less than ${MIN_DEPRECATION_DAYS} days after deprecation`);
    }
    if (typeof d.replacement !== "string" || d.replacement === "") problems.push(`${name}: say what replaces it (replacement)`);
    const op = ops.get(d.operation);
    if (!op) problems.push(`${name}: no such operation in the baseline`);
    else if (d.field && !requestFields(baseline, op).has(d.field) && !responseFields(baseline, op).has(d.field)) problems.push(`${name}: no such field in the baseline`);
  }
  return problems;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const problems = [
    ...deprecationProblems(readJson(DEPRECATIONS), readJson(BASELINE)),
    ...unallowedChanges(readJson(BASELINE), readJson(CURRENT), readJson(DEPRECATIONS)).map((c) => `${c.operation}${c.field ? ` ${c.field}` : ""}: ${c.problem} (${c.why})`),
  ];
  if (problems.length > 0) {
    console.error(`${CURRENT} breaks the /v1 contract of ${BASELINE}:\n  ${problems.join("\n  ")}\nSee docs/api/versioning.md.`);
    process.exit(1);
  }
  if (process.argv.includes("--update-baseline")) {
    copyFileSync(path.join(ROOT, CURRENT), path.join(ROOT, BASELINE));
    console.log(`${BASELINE} is now ${CURRENT}`);
  } else {
    console.log(`${CURRENT} keeps the /v1 contract of ${BASELINE}`);
  }
}
