// Starts the shared services the suites talk to (the mock LLM provider) once per run.
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    mockProviderUrl: string;
  }
}

export default async function setup(project: TestProject) {
  // @ts-expect-error plain ESM module without types
  const { startMockProvider } = await import("./mock-provider/server.mjs");
  const mock = await startMockProvider({ port: 0 });
  project.provide("mockProviderUrl", mock.url);
  return async () => {
    await mock.close();
  };
}
