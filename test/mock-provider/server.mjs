// placeholder, replaced by the mock provider
import http from "node:http";
export async function startMockProvider({ port = 0 } = {}) {
  const server = http.createServer((req, res) => res.end("mock"));
  await new Promise((r) => server.listen(port, "127.0.0.1", r));
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, close: () => new Promise((r) => server.close(r)) };
}
