// Step count_tokens: counts what the upstream will read of the request (every message part, tools, images),
// the input of the reservation admission takes (src/billing/reservation.ts). A step of its own, before
// admit: its tokenizer time is the request's (aborts on failure), never admit's timeout, which degrades
// as if the guard were down.
import type { GatewayContext } from "../context";
import { countPrompt } from "../billing/reservation";
import type { GatewayStep } from "./types";

export const countTokens: GatewayStep = {
  name: "count_tokens",
  onFailure: "abort",
  // A 1 MB body of text without spaces counts in well under a second; the bound is for a loaded isolate.
  timeoutMs: 15_000,
  retries: 0,
  async run(ctx: GatewayContext) {
    ctx.prompt = await countPrompt(ctx.parsed!);
  },
};
