// Test fixtures for the TenantGuard suites: stubs on fresh objects and admission requests with defaults.
import { env, runInDurableObject } from "cloudflare:test";
import type { AdmissionRequest, AdmissionResult } from "../../src/guard/types";
import type { TenantGuard } from "../tenant-guard";

/** A fixed clock in the future: ahead of real time, so alarms judge expiry by the clock the tests pass. */
export const T0 = Date.UTC(2030, 0, 15, 12, 0, 0);

type GuardMethods = Pick<
  TenantGuard,
  | "admit"
  | "settle"
  | "release"
  | "credit"
  | "setKeyStatus"
  | "setTenantStatus"
  | "recordSignatureFailure"
  | "snapshot"
  | "__testFailNextAlarms"
  | "finishIdempotent"
  | "outboxPut"
  | "outboxStatus"
>;
/** A real RPC stub, typed with the methods' plain return types (the RPC wrapper types do not compose with Promise.all). */
export type GuardStub = GuardMethods & DurableObjectStub<TenantGuard>;

export function guardFor(name: string = crypto.randomUUID()): GuardStub {
  return env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(name)) as unknown as GuardStub;
}

/** runInDurableObject on the guard's own instance (its Env is the worker's, not the test's Cloudflare.Env). */
export function inGuard<R>(stub: GuardStub, fn: (guard: TenantGuard, state: DurableObjectState) => R | Promise<R>): Promise<R> {
  return runInDurableObject(stub as unknown as DurableObjectStub, (instance, state) => fn(instance as unknown as TenantGuard, state));
}

let sequence = 0;

export function admission(over: Partial<AdmissionRequest> = {}): AdmissionRequest {
  sequence += 1;
  return {
    requestId: `req-${sequence}`,
    keyId: "key-1",
    channel: "external",
    capability: "chat",
    clientIp: "203.0.113.7",
    limits: {},
    quotas: [],
    estimate: { tokens: 0, costMicros: 0 },
    chargeBalance: false,
    now: T0,
    ...over,
  };
}

export function admittedCount(results: AdmissionResult[]): number {
  return results.filter((r) => r.ok).length;
}

export function failureKinds(results: AdmissionResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) if (!r.ok) out[r.failure.kind] = (out[r.failure.kind] ?? 0) + 1;
  return out;
}
