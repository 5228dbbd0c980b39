// The provider presets the development stack seeds: every adapter reachable through the mock provider.
// Prices are in micro-units of USD per million tokens.

/** @param {string} mockUrl e.g. http://127.0.0.1:41234 */
export function demoPresets(mockUrl) {
  const pricing = { input_per_million_micros: 150_000, output_per_million_micros: 600_000, per_request_micros: 0, currency: "USD" };
  const common = { credential: "MOCK_API_KEY", pricing, visibility: "both", priority: 0, weight: 1, enabled: true };
  return [
    { id: "mock-openai", capability: "chat", model: "mock-openai-chat", aliases: ["gpt-4o-mini"], provider: "openai", base_url: `${mockUrl}/v1`, auth: "bearer", ...common },
    { id: "mock-anthropic", capability: "chat", model: "mock-anthropic-chat", aliases: ["claude-3-5-haiku-latest"], provider: "anthropic", base_url: `${mockUrl}/v1`, upstream_model: "claude-mock", auth: "x-api-key", ...common },
    { id: "mock-azure", capability: "chat", model: "mock-azure-chat", aliases: [], provider: "azure", base_url: mockUrl, upstream_model: "mock-deployment", api_version: "2024-10-21", auth: "api-key", ...common },
    { id: "mock-embeddings", capability: "embeddings", model: "mock-embed", aliases: ["text-embedding-3-small"], provider: "openai", base_url: `${mockUrl}/v1`, auth: "bearer", ...common, pricing: { ...pricing, output_per_million_micros: 0 } },
  ];
}
