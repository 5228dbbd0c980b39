// The arms of the benchmark and the request each one sends: the same chat completion, direct to the
// mock, through the bare passthrough Worker, through the body-reading floor Worker, through the
// gateway's internal and external channels, and through the peers on Node: a bare node:http proxy
// and Portkey's open-source gateway; with `--baseline <ref>`, the two channels again through a previous
// commit of the gateway (the `@base` arms, bench/baseline.mjs).
import { createSigner } from "./signing.mjs";

export const MOCK_API_KEY = "mock-upstream-key";
/** The model of the preset target with a concurrency cap (bench/seed.mjs), for the external_capped arm. */
export const CAPPED_MODEL = "mock-openai-capped-chat";
const MESSAGES = [{ role: "user", content: "Hello! Please write a short reply about latency." }];
const JSON_HEADERS = { "content-type": "application/json" };

export const ARM_LABELS = {
  direct: "direct to mock",
  bare: "bare passthrough Worker",
  floor: "body-reading floor Worker",
  internal: "gateway internal",
  external: "gateway external, signed (every step)",
  external_unsigned: "gateway external, unsigned key",
  external_capped: "gateway external, unsigned key, concurrency caps on (tenant, key, target)",
  external_cache_hit: "gateway external, unsigned key, response cache hit (temperature 0, repeated)",
  external_cache_miss: "gateway external, unsigned key, response cache miss (Cache-Control: no-cache: upstream called, answer stored)",
  direct_anthropic: "direct to mock (Anthropic format)",
  internal_anthropic: "gateway internal, Anthropic upstream",
  node_proxy: "bare node:http proxy (Node)",
  portkey: "Portkey OSS (Node)",
  portkey_installed: "Portkey OSS as installed (Node)",
  portkey_anthropic: "Portkey OSS, Anthropic upstream",
  "internal@base": "gateway internal, baseline commit",
  "external_unsigned@base": "gateway external, unsigned key, baseline commit",
};

/** The suffix of an arm served by the baseline commit's gateway (`--baseline <ref>`). */
export const BASELINE_SUFFIX = "@base";
/** The arms that have a baseline twin: the same request through the previous commit's gateway. */
export const BASELINE_ARMS = ["internal", "external_unsigned"];
export const isBaselineArm = (arm) => arm.endsWith(BASELINE_SUFFIX);

/** An arm's label in a report; a baseline arm's names its commit (`meta.baseline.short`). */
export function armLabel(arm, meta) {
  if (!isBaselineArm(arm)) return ARM_LABELS[arm] ?? arm;
  const short = meta?.baseline?.short;
  return `${ARM_LABELS[arm.slice(0, -BASELINE_SUFFIX.length)]} @ ${short ?? "baseline"} (baseline)`;
}

/** Arms that run only in the stream phase at 0 ms gaps (the translated path and its baseline). */
export const STREAM_ONLY_ARMS = ["direct_anthropic", "internal_anthropic", "portkey_anthropic"];
/** The arm each stream-only arm's added figures are taken against. */
export const STREAM_BASE = { internal_anthropic: "direct_anthropic", portkey_anthropic: "direct_anthropic" };
/** The arm whose enablement brings a stream-only arm along. */
export const STREAM_ONLY_PARENT = { direct_anthropic: null, internal_anthropic: "internal", portkey_anthropic: "portkey" };

/** Whether `arm` runs given the chosen arms: stream-only arms come with their parent arm (direct_anthropic always). */
export function armWanted(arm, arms) {
  if (arm in STREAM_ONLY_PARENT) return STREAM_ONLY_PARENT[arm] === null || arms.includes(STREAM_ONLY_PARENT[arm]);
  return arms.includes(arm);
}

/** Which process runs each arm's proxy (its CPU is charged to the arm); direct has none. */
export const ARM_RUNTIME = {
  direct: null,
  bare: "bare",
  floor: "floor",
  internal: "gateway",
  external: "gateway",
  external_unsigned: "gateway",
  external_capped: "gateway",
  external_cache_hit: "gateway",
  external_cache_miss: "gateway",
  direct_anthropic: null,
  internal_anthropic: "gateway",
  node_proxy: "nodeProxy",
  portkey: "portkey",
  portkey_installed: "portkeyInstalled",
  portkey_anthropic: "portkey",
  "internal@base": "gatewayBase",
  "external_unsigned@base": "gatewayBase",
};

/**
 * The second process of an arm's proxy, whose CPU is reported apart: the gateway's Durable Objects,
 * queue consumers and their simulators (the split runtime, bench/runtime-host.mjs). Production bills
 * those separately (Durable Objects) or runs them elsewhere (queue broker, storage), not as the Worker's CPU.
 */
export const ARM_STATE = { internal: "gatewayState", external: "gatewayState", external_unsigned: "gatewayState", external_capped: "gatewayState", external_cache_hit: "gatewayState", external_cache_miss: "gatewayState", internal_anthropic: "gatewayState", "internal@base": "gatewayBaseState", "external_unsigned@base": "gatewayBaseState" };

/** Whether an arm is a gateway's (the current one's or the baseline's): Durable Objects and queue consumers behind it. */
export const isGatewayArm = (arm) => ARM_RUNTIME[arm] === "gateway" || ARM_RUNTIME[arm] === "gatewayBase";

/** The pids of the processes serving an arm (for a gateway: its Worker and its state process). */
export function armPids(arm, pids) {
  return [ARM_RUNTIME[arm], ARM_STATE[arm]].filter(Boolean).map((name) => pids[name]).filter(Boolean);
}

function openaiBody(model, stream) {
  return JSON.stringify(stream ? { model, messages: MESSAGES, stream: true, stream_options: { include_usage: true } } : { model, messages: MESSAGES });
}

/**
 * Targets per arm for one request kind ("json" or "stream"). `urls` has mock, bare, floor and gateway
 * origins and, when they run, nodeProxy, portkey, portkeyInstalled and gatewayBase; `creds` comes from
 * seedGateway (absent when the gateway is not running), `baseCreds` from the baseline's own seed.
 */
export function targetsFor(kind, urls, creds, baseCreds) {
  const stream = kind === "stream";
  const body = openaiBody("mock-openai-chat", stream);
  const upstreamHeaders = { ...JSON_HEADERS, authorization: `Bearer ${MOCK_API_KEY}` };
  const targets = {
    direct: { url: urls.mock, path: "/v1/chat/completions", headers: upstreamHeaders, body },
    bare: { url: urls.bare, path: "/v1/chat/completions", headers: upstreamHeaders, body },
    floor: { url: urls.floor, path: "/v1/chat/completions", headers: upstreamHeaders, body },
  };
  if (urls.gateway && creds) {
    const externalPath = "/external/v1/chat/completions";
    const signer = createSigner({ key: creds.signed.key, secret: creds.signed.secret, path: externalPath, body });
    targets.internal = { url: urls.gateway, path: "/internal/v1/chat/completions", headers: { ...JSON_HEADERS, authorization: `Bearer ${creds.serviceToken}` }, body };
    targets.external = { url: urls.gateway, path: externalPath, headers: JSON_HEADERS, body, sign: () => signer.headers() };
    targets.external_unsigned = { url: urls.gateway, path: externalPath, headers: { ...JSON_HEADERS, authorization: `Bearer ${creds.unsigned.key}` }, body };
    // The same as external_unsigned with every concurrency cap on, far above what the run sends: the cost of a slot.
    if (creds.capped) targets.external_capped = { ...targets.external_unsigned, headers: { ...JSON_HEADERS, authorization: `Bearer ${creds.capped.key}` }, body: openaiBody(CAPPED_MODEL, stream) };
    if (creds.cached) {
      // The response cache's figures: the same request at temperature 0 from a tenant with the cache on;
      // every request after the first is a hit. The miss arm skips the read (no-cache) and still stores.
      const cachedBody = JSON.stringify({ ...JSON.parse(body), temperature: 0 });
      const cachedHeaders = { ...JSON_HEADERS, authorization: `Bearer ${creds.cached.key}` };
      targets.external_cache_hit = { url: urls.gateway, path: externalPath, headers: cachedHeaders, body: cachedBody };
      targets.external_cache_miss = { url: urls.gateway, path: externalPath, headers: { ...cachedHeaders, "cache-control": "no-cache" }, body: cachedBody };
    }
    if (stream) {
      targets.internal_anthropic = { ...targets.internal, body: openaiBody("mock-anthropic-chat", true) };
    }
  }
  if (urls.gatewayBase && baseCreds) {
    // The same requests as internal and external_unsigned, to the previous commit's gateway.
    targets["internal@base"] = { url: urls.gatewayBase, path: "/internal/v1/chat/completions", headers: { ...JSON_HEADERS, authorization: `Bearer ${baseCreds.serviceToken}` }, body };
    targets["external_unsigned@base"] = { url: urls.gatewayBase, path: "/external/v1/chat/completions", headers: { ...JSON_HEADERS, authorization: `Bearer ${baseCreds.unsigned.key}` }, body };
  }
  if (urls.nodeProxy) targets.node_proxy = { url: urls.nodeProxy, path: "/v1/chat/completions", headers: upstreamHeaders, body };
  // Portkey routes by headers to an OpenAI-compatible host (the mock); the upstream key goes through as is.
  const portkeyHeaders = (provider) => ({ ...upstreamHeaders, "x-portkey-provider": provider, "x-portkey-custom-host": `${urls.mock}/v1` });
  if (urls.portkey) targets.portkey = { url: urls.portkey, path: "/v1/chat/completions", headers: portkeyHeaders("openai"), body };
  if (urls.portkeyInstalled) targets.portkey_installed = { url: urls.portkeyInstalled, path: "/v1/chat/completions", headers: portkeyHeaders("openai"), body };
  if (stream && urls.portkey) {
    // The peer's translated path: OpenAI format in and out, Anthropic Messages upstream (the mock's).
    // Portkey passes max_tokens through and Anthropic requires it (our gateway sets a default itself).
    const body = JSON.stringify({ ...JSON.parse(openaiBody("claude-mock", true)), max_tokens: 1024 });
    targets.portkey_anthropic = { url: urls.portkey, path: "/v1/chat/completions", headers: portkeyHeaders("anthropic"), body };
  }
  if (stream) {
    targets.direct_anthropic = {
      url: urls.mock,
      path: "/v1/messages",
      headers: { ...JSON_HEADERS, "x-api-key": MOCK_API_KEY, "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model: "claude-mock", max_tokens: 1024, messages: MESSAGES, stream: true }),
    };
  }
  return targets;
}
