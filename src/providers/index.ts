// Provider adapters by kind: the one place that knows which adapter serves which upstream.
import type { ProviderKind } from "../config/schemas";
import { anthropicAdapter } from "./anthropic";
import { azureAdapter } from "./azure";
import { openaiAdapter } from "./openai";
import type { ProviderAdapter } from "./types";

const ADAPTERS = { openai: openaiAdapter, anthropic: anthropicAdapter, azure: azureAdapter } as const satisfies Record<ProviderKind, ProviderAdapter>;

export function adapterFor(kind: ProviderKind): ProviderAdapter {
  return ADAPTERS[kind];
}

export type { ProviderAdapter, TokenUsage, UpstreamHttpRequest, ChatStreamOptions, OpenAIChatCompletion, OpenAIChatChunk } from "./types";
