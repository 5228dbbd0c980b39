// The one model catalog: what a caller may use on a channel, from the presets version in force for it
// (gray release, release.ts). Routing, GET /models and the tenant's health view all read it here, so
// they never disagree about which models exist, are enabled, visible or allowed.
import type { Channel, Principal } from "../context";
import type { Capability, PresetItem, PresetsDocument, Scopes } from "../config/schemas";
import type { Env } from "../env";
import { ok, type Result } from "../errors";
import { resolvePresets } from "./release";

export function visibleTo(item: PresetItem, channel: Channel): boolean {
  return item.enabled && (item.visibility === "both" || item.visibility === channel);
}

export function allowedByScopes(item: PresetItem, scopes: Scopes): boolean {
  if (scopes.capabilities && !scopes.capabilities.includes(item.capability)) return false;
  if (scopes.models && !scopes.models.includes(item.model)) return false;
  return true;
}

export interface Catalog {
  /** Enabled items visible on the channel, in the presets version in force for the caller. */
  visible: PresetItem[];
  /** The caller's scopes (absent: every visible item is allowed). */
  scopes?: Scopes;
  /** The presets version in force: audit config_version and ledger price_version (0 before any presets exist). */
  version: number;
  document?: PresetsDocument;
  /** Set when the caller's candidate version could not be read and the stable one serves. */
  flag?: string;
}

export async function catalogFor(env: Env, principal: Principal | undefined, channel: Channel): Promise<Result<Catalog>> {
  const presets = await resolvePresets(env, principal?.tenantId);
  if (!presets.ok) return presets;
  const resolved = presets.value;
  const visible = (resolved?.document.items ?? []).filter((item) => visibleTo(item, channel));
  return ok({ visible, scopes: principal?.scopes, version: resolved?.version ?? 0, document: resolved?.document, flag: resolved?.flag });
}

export function allowedIn(catalog: Catalog, item: PresetItem): boolean {
  return catalog.scopes === undefined || allowedByScopes(item, catalog.scopes);
}

/** The catalog's items serving `model` (its name or an alias) for `capability`, before the caller's scopes. */
export function servingModel(catalog: Catalog, model: string, capability: Capability): PresetItem[] {
  return catalog.visible.filter((i) => i.capability === capability && (i.model === model || i.aliases.includes(model)));
}

/** Every item the caller may use. */
export function allowedItems(catalog: Catalog): PresetItem[] {
  return catalog.visible.filter((item) => allowedIn(catalog, item));
}
