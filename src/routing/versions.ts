// Versioned presets (routing, bandit parameters, prices) on the admin side: stage a version, roll it
// out to tenants, promote it, roll back with one call. Each version is written once, immutable, at
// `config:presets:v:<n>`; the live document `config:presets` holds the stable version in full plus
// the release state, and its `revision` grows on every write (rollbacks too), so no cache ever keeps
// an older write after seeing a newer one. KV has no compare-and-set: admin writes are last-writer-wins.
import { z } from "zod";
import { kvKeys } from "../config/kv-keys";
import { PresetsDocumentSchema, type PresetItem, type PresetsDocument, type Release, type RoutingPolicy } from "../config/schemas";
import { providerSecretRefusal, type Env, type Settings } from "../env";
import { err, fail, ok, type GatewayFailure, type Result } from "../errors";
import { readJson, writeJson } from "../admin/kv";
import { checkEgressUrl } from "../security/egress";
import { parseHostPattern } from "../security/egress-hosts";
import { checkExtraFields } from "../providers/request-fields";
import { presetsVersionKey } from "./keys";

export const StoredPresetsSchema = PresetsDocumentSchema.extend({ updated_at: z.string().optional() });
export type StoredPresets = z.output<typeof StoredPresetsSchema>;
export const VersionDocumentSchema = PresetsDocumentSchema.extend({ created_at: z.string().optional() });
export type VersionDocument = z.output<typeof VersionDocumentSchema>;

/** Earlier stable versions kept for rollback. */
export const MAX_PREVIOUS = 20;

export interface VersionInput {
  items: PresetItem[];
  policies?: Record<string, RoutingPolicy>;
  effective_at?: string;
}

/** What the gateway checks again when it calls a stored preset (src/steps/call-upstream.ts): written presets must pass it now. */
function checkItem(item: PresetItem, at: string, settings: Settings): GatewayFailure | undefined {
  const refused = (field: string, message: string) => fail("invalid_request", `${at}.${field} ${message}`, { param: `${at}.${field}` });
  if (item.credential !== undefined) {
    const why = providerSecretRefusal(settings, item.credential);
    if (why) return refused("credential", `is not an allowed provider secret: ${why}`);
  }
  const extra = checkExtraFields(item);
  if (extra) return refused(extra[0], extra[1]);
  for (const [j, host] of (item.egress_hosts ?? []).entries()) {
    const parsed = parseHostPattern(host, { wildcard: false });
    if (!parsed.ok) return refused(`egress_hosts.${j}`, `is refused: ${parsed.failure.message}`);
  }
  const verdict = checkEgressUrl(item.base_url, { allowLoopback: settings.allowLoopbackUpstreams, allowedHosts: settings.egressAllowedHosts, extraHosts: item.egress_hosts });
  if (!verdict.ok) return refused("base_url", `is not an allowed upstream: ${verdict.failure.message}`);
  return undefined;
}

/** Every item passes checkItem, and every policy names a model some item serves (a typo would silently do nothing). */
export function checkVersionInput(input: VersionInput, settings: Settings): GatewayFailure | undefined {
  for (const [i, item] of input.items.entries()) {
    const problem = checkItem(item, `items.${i}`, settings);
    if (problem) return problem;
  }
  const models = new Set(input.items.map((item) => item.model));
  for (const route of Object.keys(input.policies ?? {})) {
    if (!models.has(route)) return fail("invalid_request", `policies.${route} names no preset model`, { param: `policies.${route}` });
  }
  return undefined;
}

const conflict = (message: string) => fail("invalid_state", message);

export const readLive = (env: Env): Promise<Result<StoredPresets | null>> => readJson(env, kvKeys.presets(), StoredPresetsSchema);

/** A version document; the stable version of a document written before versions were kept is served from the live one. */
export async function readVersion(env: Env, version: number, live?: StoredPresets | null): Promise<Result<VersionDocument | null>> {
  const read = await readJson(env, presetsVersionKey(version), VersionDocumentSchema);
  if (!read.ok || read.value || !live || live.version !== version) return read;
  return ok(versionOf(live));
}

function versionOf(doc: PresetsDocument & { updated_at?: string; created_at?: string }): VersionDocument {
  return { version: doc.version, items: doc.items, policies: doc.policies, effective_at: doc.effective_at, created_at: doc.created_at ?? doc.updated_at };
}

const latestVersion = (live: StoredPresets | null) => Math.max(live?.release?.latest_version ?? 0, live?.version ?? 0);
const revisionOf = (live: StoredPresets | null) => live?.revision ?? live?.version ?? 0;
const releaseOf = (live: StoredPresets | null): Release => ({ previous: [], ...live?.release, latest_version: latestVersion(live) });

/** Keeps a copy of the current stable version before it is replaced (documents from before versioning have none). */
async function archiveStable(env: Env, live: StoredPresets | null): Promise<Result<void>> {
  if (!live || live.version === 0) return ok(undefined);
  const held = await readJson(env, presetsVersionKey(live.version), VersionDocumentSchema);
  if (!held.ok || held.value) return held.ok ? ok(undefined) : err(held.failure);
  return writeJson(env, presetsVersionKey(live.version), versionOf(live));
}

async function writeLive(env: Env, live: StoredPresets | null, next: Omit<StoredPresets, "revision" | "updated_at">, now: Date): Promise<Result<StoredPresets>> {
  const doc: StoredPresets = { ...next, revision: revisionOf(live) + 1, updated_at: now.toISOString() };
  const written = await writeJson(env, kvKeys.presets(), doc);
  return written.ok ? ok(doc) : err(written.failure);
}

function stableFields(doc: VersionDocument): Pick<StoredPresets, "version" | "items" | "policies" | "effective_at"> {
  return { version: doc.version, items: doc.items, policies: doc.policies, effective_at: doc.effective_at };
}

/** Writes a new immutable version without putting it in force for anyone. */
export async function stageVersion(env: Env, input: VersionInput, now = new Date()): Promise<Result<VersionDocument>> {
  const live = await readLive(env);
  if (!live.ok) return live;
  const doc: VersionDocument = { version: latestVersion(live.value) + 1, items: input.items, policies: input.policies, effective_at: input.effective_at, created_at: now.toISOString() };
  const written = await writeJson(env, presetsVersionKey(doc.version), doc);
  if (!written.ok) return written;
  const base = live.value ?? { version: 0, items: [] };
  const next = await writeLive(env, live.value, { ...base, release: { ...releaseOf(live.value), latest_version: doc.version } }, now);
  return next.ok ? ok(doc) : next;
}

/** Stages and promotes in one call (PUT /admin/v1/presets): in force for everyone, any rollout ended. */
export async function publishVersion(env: Env, input: Omit<VersionInput, "effective_at">, now = new Date()): Promise<Result<StoredPresets>> {
  const staged = await stageVersion(env, input, now);
  if (!staged.ok) return staged;
  return promote(env, staged.value.version, now);
}

/** Rolls a staged version out to listed tenants and/or a percentage of tenants (replacing any running rollout). */
export async function startRollout(env: Env, rollout: { version: number; tenants: string[]; percent: number }, now = new Date()): Promise<Result<StoredPresets>> {
  const live = await readLive(env);
  if (!live.ok) return live;
  if (!live.value) return err(fail("not_found", `Version ${rollout.version} does not exist.`));
  if (rollout.version === live.value.version) return err(conflict(`Version ${rollout.version} is already the stable version.`));
  const doc = await readVersion(env, rollout.version);
  if (!doc.ok) return doc;
  if (!doc.value) return err(fail("not_found", `Version ${rollout.version} does not exist.`));
  const candidate = { ...rollout, effective_at: doc.value.effective_at, started_at: now.toISOString() };
  return writeLive(env, live.value, { ...live.value, release: { ...releaseOf(live.value), candidate } }, now);
}

/** Makes a version (default: the candidate) the stable one for everyone; the old stable is kept for rollback. */
export async function promote(env: Env, version: number | undefined, now = new Date()): Promise<Result<StoredPresets>> {
  const live = await readLive(env);
  if (!live.ok) return live;
  const target = version ?? live.value?.release?.candidate?.version;
  if (target === undefined) return err(conflict("There is no rollout to promote; name a version."));
  if (target === live.value?.version) return err(conflict(`Version ${target} is already the stable version.`));
  const doc = await readVersion(env, target);
  if (!doc.ok) return doc;
  if (!doc.value) return err(fail("not_found", `Version ${target} does not exist.`));
  if (doc.value.effective_at && Date.parse(doc.value.effective_at) > now.getTime()) {
    return err(conflict(`Version ${target} takes effect at ${doc.value.effective_at}; roll it out to 100% to schedule it.`));
  }
  const archived = await archiveStable(env, live.value);
  if (!archived.ok) return archived;
  const release = releaseOf(live.value);
  const previous = live.value && live.value.version > 0 ? [live.value.version, ...release.previous].slice(0, MAX_PREVIOUS) : release.previous;
  return writeLive(env, live.value, { ...stableFields(doc.value), release: { previous, latest_version: release.latest_version } }, now);
}

export type RollbackOutcome = { action: "rollout_cancelled"; cancelled: number; live: StoredPresets } | { action: "reverted"; from: number; live: StoredPresets };

/** One call: ends a running rollout if there is one, else restores the previous stable version. */
export async function rollback(env: Env, now = new Date()): Promise<Result<RollbackOutcome>> {
  const live = await readLive(env);
  if (!live.ok) return live;
  if (!live.value) return err(conflict("There is nothing to roll back."));
  const release = releaseOf(live.value);
  if (release.candidate) {
    const written = await writeLive(env, live.value, { ...live.value, release: { previous: release.previous, latest_version: release.latest_version } }, now);
    return written.ok ? ok({ action: "rollout_cancelled", cancelled: release.candidate.version, live: written.value }) : written;
  }
  const [back, ...older] = release.previous;
  if (back === undefined) return err(conflict("There is no earlier version to roll back to."));
  const doc = await readVersion(env, back);
  if (!doc.ok) return doc;
  if (!doc.value) return err(conflict(`Version ${back} is no longer stored; promote another version instead.`));
  const written = await writeLive(env, live.value, { ...stableFields(doc.value), release: { previous: older, latest_version: release.latest_version } }, now);
  return written.ok ? ok({ action: "reverted", from: live.value.version, live: written.value }) : written;
}
