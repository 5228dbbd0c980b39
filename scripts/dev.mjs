// `npm start`: runs the gateway locally on its embedded defaults and prints how to call it.
// PORT (default 8787) and ADMIN_TOKEN may be set in the environment; Ctrl-C stops everything.
import { startDevStack } from "./dev-stack.mjs";

const port = Number(process.env.PORT ?? 8787);
const stack = await startDevStack({ port, adminToken: process.env.ADMIN_TOKEN }).catch((error) => {
  console.error(`npm start failed: ${error.message}`);
  process.exit(1);
});
const { external, internal } = stack.credentials;

console.log(`
Gateway ready on ${stack.baseUrl}   (credentials in .dev/demo-credentials.json)

  curl -i ${external.base_url}/chat/completions \\
    -H "Authorization: Bearer ${external.api_key}" -H "Content-Type: application/json" \\
    -d '{"model":"mock-openai-chat","temperature":0,"messages":[{"role":"user","content":"Hello!"}]}'
  (send it twice: x-gateway-cache says miss, then hit; the demo tenant caches answers for 5 minutes)

  // Node, with the official client (npm i openai):
  import OpenAI from "openai";
  const client = new OpenAI({ baseURL: "${external.base_url}", apiKey: "${external.api_key}" });
  const reply = await client.chat.completions.create({ model: "mock-openai-chat", messages: [{ role: "user", content: "Hello!" }] });
  console.log(reply.choices[0].message.content);

  Internal channel: ${internal.base_url}  (Authorization: Bearer ${internal.token})
  Admin API: ${stack.baseUrl}/admin/v1  (owner token: admin_token in .dev/demo-credentials.json;
    the break-glass ADMIN_TOKEN is in .dev/secrets.json, for emergencies only: every use is audited)
  Models: mock-openai-chat, mock-anthropic-chat, mock-azure-chat, mock-embed
  Press Ctrl-C to stop.
`);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    console.log("\nstopping...");
    await stack.stop();
    process.exit(0);
  });
}
