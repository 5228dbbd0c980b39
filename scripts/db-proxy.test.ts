// The WS-to-TCP proxy: loopback-only targets, Terminate detection, and a real round trip to the test database.
import { Client } from "@neondatabase/serverless";
import net from "node:net";
import ws from "ws";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loopbackTarget, startDbProxy, terminateWatcher } from "./db-proxy.mjs";

type Proxy = Awaited<ReturnType<typeof startDbProxy>>;
let proxy: Proxy;
beforeAll(async () => {
  proxy = await startDbProxy({ port: 0 });
});
afterAll(() => proxy.close());

const message = (type: string, body: Buffer) => {
  const header = Buffer.alloc(5);
  header.write(type, 0, "latin1");
  header.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([header, body]);
};
const startup = () => {
  const body = Buffer.from("user\0postgres\0\0");
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(196608, 4);
  return Buffer.concat([head, body]);
};

describe("loopbackTarget", () => {
  it("accepts only loopback addresses", () => {
    expect(loopbackTarget("127.0.0.1:5432")).toEqual({ host: "127.0.0.1", port: 5432 });
    expect(loopbackTarget("localhost:5432")).toEqual({ host: "127.0.0.1", port: 5432 });
    expect(loopbackTarget("[::1]:5432")).toEqual({ host: "::1", port: 5432 });
    for (const bad of ["10.0.0.1:5432", "169.254.169.254:80", "example.com:5432", "127.0.0.1.nip.io:5432", "127.0.0.1:0", "127.0.0.1", "", null]) {
      expect(loopbackTarget(bad)).toBeUndefined();
    }
  });
});

describe("terminateWatcher", () => {
  it("finds Terminate after other messages, across chunk boundaries", () => {
    const stream = Buffer.concat([startup(), message("Q", Buffer.from("select 1\0")), message("X", Buffer.alloc(0))]);
    const saw = terminateWatcher();
    const cuts = [3, 11, stream.length - 2];
    expect(saw(stream.subarray(0, cuts[0]))).toBe(false);
    expect(saw(stream.subarray(cuts[0], cuts[1]))).toBe(false);
    expect(saw(stream.subarray(cuts[1], cuts[2]))).toBe(false);
    expect(saw(stream.subarray(cuts[2]))).toBe(true);
  });

  it("does not mistake an X inside a large Bind payload for Terminate", () => {
    const saw = terminateWatcher();
    const bind = message("B", Buffer.alloc(200_000, "X"));
    expect(saw(startup())).toBe(false);
    for (let i = 0; i < bind.length; i += 65_536) expect(saw(bind.subarray(i, i + 65_536))).toBe(false);
    expect(saw(message("X", Buffer.alloc(0)))).toBe(true);
  });
});

describe("startDbProxy", () => {
  it("refuses to forward to a non-loopback address", async () => {
    const status = await new Promise<number>((resolve) => {
      const socket = new ws(`ws://${proxy.address}/v1?address=10.1.2.3:5432`);
      socket.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      socket.on("error", () => resolve(-1));
    });
    expect(status).toBe(403);
  });

  it("carries a Neon client session to the test database and closes TCP after Terminate", async () => {
    const client = new Client(inject("databaseUrl"));
    Object.assign(client.neonConfig, {
      webSocketConstructor: ws,
      wsProxy: (h: string, p: number) => `${proxy.address}/v1?address=${h}:${p}`,
      useSecureWebSocket: false,
      pipelineTLS: false,
      pipelineConnect: false,
    });
    await client.connect();
    const { rows } = await client.query("select count(*)::int as n from schema_migrations");
    expect(rows[0].n).toBeGreaterThanOrEqual(3);
    expect(proxy.connections()).toBe(1);
    await client.end();
    await new Promise((r) => setTimeout(r, 100));
    expect(proxy.connections()).toBe(0);
  });

  it("closes the TCP side itself when the client sends Terminate and then stays silent", async () => {
    // A server that, like PGlite, never closes on Terminate: only the proxy can end the connection.
    let ended = false;
    const silent = net.createServer((s) => {
      s.resume();
      s.on("end", () => (ended = true));
    });
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    const port = (silent.address() as net.AddressInfo).port;
    const socket = new ws(`ws://${proxy.address}/v1?address=127.0.0.1:${port}`);
    await new Promise((r) => socket.once("open", r));
    socket.send(Buffer.concat([startup(), message("X", Buffer.alloc(0))]));
    await Promise.race([new Promise((r) => socket.once("close", r)), new Promise((r) => setTimeout(r, 2_000))]);
    await new Promise((r) => setTimeout(r, 50));
    expect(ended).toBe(true);
    socket.terminate();
    silent.close();
  });
});
