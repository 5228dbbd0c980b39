// Bounds of the numeric request fields: what the providers the gateway speaks accept (OpenAI, Azure OpenAI,
// Anthropic), so an absurd number is the request's 400 naming its field, never an overflow in the
// reservation or a refusal that reads as an outage. docs/api/reservations.md states them.
import { z } from "zod";

/** Output tokens a client may ask for (max_tokens / max_completion_tokens): above any model's output limit today. */
export const MAX_OUTPUT_TOKENS = 1_000_000;
/**
 * Choices per request (`n`). OpenAI documents up to 128; the gateway accepts 16, since the reservation is n
 * times the output cap and 128 long answers in one request is a denial-of-wallet lever, not a use case.
 */
export const MAX_CHOICES = 16;
/** Embedding dimensions: the largest model today has 3,072; 65,536 leaves room without letting numbers overflow. */
export const MAX_EMBEDDING_DIMENSIONS = 65_536;

export const outputTokens = () => z.number().int().min(1).max(MAX_OUTPUT_TOKENS);
export const choices = () => z.number().int().min(1).max(MAX_CHOICES);
/** presence_penalty and frequency_penalty. */
export const penalty = () => z.number().min(-2).max(2);
/** Logprobs per token position. */
export const topLogprobs = () => z.number().int().min(0).max(20);
/** token id -> bias. */
export const logitBias = () => z.record(z.string(), z.number().min(-100).max(100));
export const seed = () => z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);
/** Anthropic's top_k (sampling from the k likeliest tokens): no vocabulary is larger than a million tokens. */
export const topK = () => z.number().int().min(0).max(1_000_000);
export const dimensions = () => z.number().int().min(1).max(MAX_EMBEDDING_DIMENSIONS);
