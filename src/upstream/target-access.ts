// What every call to an upstream target passes before it is sent, wherever it is made (the pipeline's
// call_upstream step, the token-counting route): the egress guard on its URL and the gateway's own
// credential in the header its provider expects, after the same checks as at write time.
import type { PresetItem } from "../config/schemas";
import { providerSecretRefusal, secretNamed, type Env, type Settings } from "../env";
import { fail, type GatewayFailure, type Result } from "../errors";
import { applyCredential } from "../providers/credentials";
import { checkEgressUrl } from "../security/egress";

// The egress verdict depends only on the URL string, the preset's extra hosts and the settings, and an
// isolate calls the same few upstream URLs over and over: each allowed URL is checked once (bounded, for
// URLs that vary; cleared when the settings change). Refusals are not kept: they are rare, and their
// failure objects belong to one request.
const egressVerdicts = new Map<string, Result<URL>>();
let verdictsFor: Settings | undefined;
const MAX_EGRESS_VERDICTS = 512;

export function egressVerdict(raw: string, target: PresetItem, settings: Settings): Result<URL> {
  if (verdictsFor !== settings || egressVerdicts.size >= MAX_EGRESS_VERDICTS) {
    egressVerdicts.clear();
    verdictsFor = settings;
  }
  const extraHosts = target.egress_hosts ?? [];
  const key = extraHosts.length === 0 ? raw : `${extraHosts.join(",")} ${raw}`;
  let verdict = egressVerdicts.get(key);
  if (!verdict) {
    // A stored preset's egress_hosts are exact names only, whatever was written: they never act as patterns.
    verdict = checkEgressUrl(raw, { allowLoopback: settings.allowLoopbackUpstreams, allowedHosts: settings.egressAllowedHosts, extraHosts });
    if (verdict.ok) egressVerdicts.set(key, verdict);
  }
  return verdict;
}

/** The upstream credential header, after the same checks as at write time (a preset stored before them must not leak a secret). */
export function credentialFor(env: Env, settings: Settings, target: PresetItem, headers: Record<string, string>, traceId: string): GatewayFailure | undefined {
  if (!target.credential) return undefined;
  const refusal = providerSecretRefusal(settings, target.credential);
  if (refusal) {
    // The secret's name is for the operator's logs; the client only learns the upstream is misconfigured.
    console.error(JSON.stringify({ level: "error", msg: "preset credential refused", preset: target.id, reason: refusal, trace_id: traceId }));
    return fail("credential_not_allowed", `upstream ${target.id} is configured with a credential the gateway does not allow`);
  }
  const secret = secretNamed(env, target.credential);
  if (!secret) return fail("no_available_upstream", `upstream ${target.id} has no credential configured`);
  return applyCredential(headers, target.auth, secret);
}
