// Writes docs/api/errors.md from the error model in src/errors.ts plus the descriptions below, so
// the reference can never miss a code (scripts/docs.test.ts fails when the file is out of date).
// Run: node scripts/gen-errors-doc.mjs
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export const DESCRIPTIONS = {
  invalid_request: "The body failed validation; `param` names the field.",
  invalid_json: "The body is not valid JSON.",
  malformed_header: "A header the gateway reads is malformed.",
  api_key_in_query: "A credential was sent in the URL query string (it is never logged or used).",
  request_too_large: "The body is over `MAX_REQUEST_BYTES` (declared or streamed).",
  unsupported_media_type: "The body is not `application/json`.",
  not_found: "No such route, or no such resource (including another tenant's ids).",
  method_not_allowed: "The route exists but not for this method.",
  model_not_found: "No enabled preset serves this model on this channel.",
  template_not_found: "The named prompt template (or version) does not exist.",
  template_error: "The template could not be rendered (a missing variable, a Jinja error).",
  template_limit_exceeded: "Rendering the template went past one of its work limits (loop iterations, output size, interpreter work); the message names the limit.",
  idempotency_key_conflict: "The `Idempotency-Key` was used before with a different body.",
  idempotency_key_in_use: "A request with this `Idempotency-Key` is still in flight; retry after `Retry-After`.",
  invalid_state: "An admin action the resource's current state forbids (e.g. unfreezing a revoked key).",
  missing_api_key: "No `Authorization: Bearer` (or `x-api-key`) header.",
  invalid_api_key: "The key is malformed, unknown, or belongs to no tenant.",
  key_expired: "The key is past its `expires_at`.",
  missing_signature: "The key requires signed requests and the request carries no signature.",
  invalid_signature: "The signature, its format or the nonce format is wrong.",
  stale_timestamp: "`X-Gateway-Timestamp` is missing, malformed or more than 300 s from the gateway clock.",
  replayed_nonce: "This nonce was already used within its lifetime.",
  invalid_service_token: "The internal channel's service token is malformed or unknown.",
  admin_unauthorized: "Missing, wrong, revoked or rotated-away admin token.",
  admin_login_throttled: "Too many wrong admin tokens from this source (10 in 10 minutes lock it for 15), or, for the break-glass `ADMIN_TOKEN` only, from everywhere (200 in 5 minutes); even the right token waits. See `Retry-After`.",
  ip_not_allowed: "`CF-Connecting-IP` is outside the key's or tenant's allowlist.",
  key_frozen: "The key was frozen (repeated signature failures, or by an admin).",
  key_revoked: "The key or service token was revoked.",
  tenant_banned: "The tenant is banned; all its keys are refused.",
  scope_denied: "The key may not use this capability or model.",
  origin_not_allowed: "A browser request (its `Origin` header names another site) with a key whose `allowed_origins` does not list that origin, or a preflight from an origin no key allows. The refusal carries no CORS headers, so the page cannot read it.",
  insufficient_role: "The credential is valid but its role or scope does not cover this route (an admin role for the area, an admin token scoped to one tenant on a route about no tenant, or a service token without the operations scope).",
  rate_limit_exceeded: "Requests-per-minute limit reached (tenant, key or IP level); see `Retry-After`.",
  tokens_rate_limit_exceeded: "Tokens-per-minute limit reached; see `Retry-After`.",
  global_rate_limit_exceeded: "The gateway-wide bucket is saturated; capacity is shared by tenant weight.",
  concurrency_limit_exceeded: "Too many requests in flight for the tenant, key or service (`max_concurrent_requests`); `Retry-After` and `x-ratelimit-*-concurrency` say more. With the tenant's `queue` policy, given after the bounded wait.",
  daily_quota_exceeded: "A daily quota (tokens, requests or cost) ran out; resets at the day boundary.",
  monthly_quota_exceeded: "A monthly quota ran out; resets at the month boundary.",
  quota_exceeded: "A never-resetting quota ran out.",
  insufficient_balance: "The prepaid balance cannot cover the request's reservation.",
  internal_error: "A bug in the gateway; report the `trace_id`.",
  auth_unavailable: "The key or nonce store could not be read: the gateway fails closed.",
  limiter_unavailable: "The rate limiter could not be reached (normally the request is let through and flagged instead).",
  balance_unavailable: "The balance could not be checked: the gateway fails closed.",
  config_unavailable: "Configuration could not be read.",
  ledger_unavailable: "The ledger database could not be read (audit, usage and export routes).",
  step_timeout: "A pipeline step took longer than its timeout.",
  no_available_upstream: "No upstream candidate could take the request (none configured, none with a credential).",
  circuit_open: "Every candidate upstream's circuit breaker is open.",
  egress_denied: "The upstream URL is not allowed: not HTTPS, a private or loopback address (in any spelling, or a name that spells one such as `10.0.0.1.nip.io`), or a host outside the egress allowlist (`EGRESS_ALLOWED_HOSTS` plus the preset's `egress_hosts`). Checked when a preset is written and again before every call.",
  credential_not_allowed: "The routed preset names an upstream credential the gateway does not allow (not listed in `PROVIDER_SECRETS`, or one of the gateway's own secrets): nothing was sent upstream. Operators: fix the preset's `credential`; the refused name is in the gateway's error log.",
  overloaded: "The upstream target's concurrency slots are short and this request's priority class is shed first; retry after `Retry-After`.",
  upstream_error: "The upstream failed (5xx, connection error, or its own 4xx passed through with its status).",
  upstream_timeout: "The upstream sent no first byte, or went idle mid-stream, past the timeout.",
  upstream_response_too_large: "The upstream's answer exceeded `MAX_RESPONSE_BYTES` and was not delivered. The upstream charged for it, so it is billed (its usage when readable, else the reservation) and the ledger row is flagged `oversize_answer`.",
  upstream_rate_limited: "The upstream answered 429 after the gateway's retries.",
  upstream_bad_response: "The upstream answered with something invalid for its format, or a redirect.",
};

const ERRORS_SOURCE = readFileSync(path.join(ROOT, "src/errors.ts"), "utf8");

/** The Anthropic mapping, read from src/errors.ts: statuses it spells differently, then the type per status. */
function anthropicMapping(source) {
  const block = (name) => source.slice(source.indexOf(`export const ${name}`), source.indexOf("} as const satisfies", source.indexOf(`export const ${name}`)));
  const remap = Object.fromEntries([...block("ANTHROPIC_STATUS").matchAll(/(\d+): (\d+)/g)].map((m) => [m[1], m[2]]));
  const types = Object.fromEntries([...block("ANTHROPIC_ERROR_TYPES").matchAll(/(\d+): "(\w+)"/g)].map((m) => [m[1], m[2]]));
  return (status) => {
    const s = remap[status] ?? status;
    return { status: s, type: types[s] ?? (Number(s) < 500 ? "invalid_request_error" : "api_error") };
  };
}

function anthropicTable(source = ERRORS_SOURCE) {
  const block = source.slice(source.indexOf("export const ANTHROPIC_ERROR_TYPES"), source.indexOf("} as const satisfies", source.indexOf("export const ANTHROPIC_ERROR_TYPES")));
  const remap = source.slice(source.indexOf("export const ANTHROPIC_STATUS"), source.indexOf("\n", source.indexOf("export const ANTHROPIC_STATUS")));
  const rows = ["| gateway status | Anthropic status | Anthropic type |", "|---|---|---|"];
  const spelled = Object.fromEntries([...remap.matchAll(/(\d+): (\d+)/g)].map((m) => [m[2], m[1]]));
  for (const m of block.matchAll(/(\d+): "(\w+)"/g)) rows.push(`| ${spelled[m[1]] ?? m[1]} | ${m[1]} | \`${m[2]}\` |`);
  return rows.join("\n");
}

const INTRO = `# Errors

Every failure, on every route, answers with the right HTTP status and, outside the
[Anthropic routes](#anthropic-routes), one body shape (OpenAI's, plus the trace id):

\`\`\`json
{
  "error": { "message": "Incorrect API key provided.", "type": "authentication_error", "code": "invalid_api_key", "param": null },
  "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"
}
\`\`\`

- \`code\` is stable and machine-readable (the tables below); \`message\` is for people and may change.
- \`param\` names the offending field or header when there is one.
- \`trace_id\` equals the \`x-trace-id\` response header; quote it when asking for help. An incoming
  \`traceparent\` (W3C) or \`x-request-id\` is honoured as the trace id.
- Every response, success or error, carries \`x-request-id\`, equal to \`x-gateway-request-id\`: the
  gateway's own id for the request (the audit's and ledger's \`request_id\`, what the OpenAI clients
  expose as \`_request_id\`). A client's own \`x-request-id\` only sets the trace id.
- \`Retry-After\` is set on 429s, on \`idempotency_key_in_use\` and wherever a retry makes sense.
- The audit record of each request attributes the error: \`source\` (client / gateway / upstream),
  \`code\`, and the upstream's own status when there was one.

A stream that has already started cannot change its status: if the upstream breaks, goes idle or
grows past the size limit mid-stream, the stream ends with one error event in the client's format
(\`data: {"error":{...},"trace_id":"..."}\` for OpenAI clients, \`event: error\` for Anthropic clients),
never with a clean \`[DONE]\`.

Errors whose source is "client" fail again when retried unchanged; gateway and upstream errors may
succeed on a retry.

## Anthropic routes

\`/messages\`, \`/messages/count_tokens\` and any other path under \`/messages\` (both channels) answer
in Anthropic's shape, so the Anthropic clients' typed errors and retries read them as they read
Anthropic's own. Every response there also carries Anthropic's \`request-id\` header (equal to
\`x-request-id\` and \`x-gateway-request-id\`):

\`\`\`json
{
  "type": "error",
  "error": { "type": "not_found_error", "message": "The model 'x' does not exist or is not available on this channel", "details": { "error_code": "model_not_found", "param": "model" } },
  "request_id": "9f0c2b7e4d1a4c3b8e6f5a4d3c2b1a09"
}
\`\`\`

The gateway's \`code\` is \`error.details.error_code\` (where Anthropic puts its own machine-readable
codes), with \`param\` beside it when there is one. Anthropic's type follows from the status, and the
status is the gateway's except where Anthropic spells it differently:

${anthropicTable()}

Any other 4xx is \`invalid_request_error\` and any other 5xx \`api_error\`. The "Anthropic" column
below gives each code's status and type there. A stream that cannot finish ends with
\`event: error\` whose data is the same body (plus \`trace_id\`).

<!-- generated by scripts/gen-errors-doc.mjs from src/errors.ts -->
`;

export function renderErrorsDoc(source) {
  const block = source.slice(source.indexOf("export const ERROR_KINDS"), source.indexOf("} as const satisfies"));
  const anthropic = anthropicMapping(source);
  const out = [INTRO];
  const sources = { c: "client", g: "gateway", u: "upstream" };
  for (const line of block.split("\n")) {
    const section = /^\s*\/\/ (.*)$/.exec(line);
    if (section) {
      out.push(`\n## ${section[1][0].toUpperCase()}${section[1].slice(1)}\n\n| code | status | type | Anthropic | source | meaning |\n|---|---|---|---|---|---|`);
      continue;
    }
    const kind = /^\s+(\w+): ([cgu])\((\d+), "(\w+)"\),$/.exec(line);
    if (!kind) continue;
    const [, name, src, status, type] = kind;
    const description = DESCRIPTIONS[name];
    if (!description) throw new Error(`scripts/gen-errors-doc.mjs: describe the error kind "${name}"`);
    const a = anthropic(status);
    out.push(`| \`${name}\` | ${status} | \`${type}\` | ${a.status} \`${a.type}\` | ${sources[src]} | ${description} |`);
  }
  return out.join("\n") + "\n";
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const doc = renderErrorsDoc(ERRORS_SOURCE);
  writeFileSync(path.join(ROOT, "docs/api/errors.md"), doc);
  console.log("wrote docs/api/errors.md");
}
