// The second reference: the least any proxy that reads the traffic must do, in the same runtime as the
// gateway. It reads and parses the request body, sends it upstream as a new request, then (non-streaming)
// reads, parses and re-serializes the answer; a stream is passed through. No validation, auth, limits,
// routing, billing or audit: whatever the gateway adds beyond this is its own work, and this arm's
// distance from the bare passthrough is what the runtime charges for touching a body at all.
export default {
  /** @param {Request} request @param {{ UPSTREAM: string }} env */
  async fetch(request, env) {
    const body = JSON.parse(await request.text());
    const url = new URL(request.url);
    const upstream = await fetch(env.UPSTREAM + url.pathname, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: request.headers.get("authorization") ?? "" },
      body: JSON.stringify(body),
    });
    const headers = { "content-type": upstream.headers.get("content-type") ?? "application/json" };
    if (body.stream === true) return new Response(upstream.body, { status: upstream.status, headers });
    const answer = JSON.parse(await upstream.text());
    return new Response(JSON.stringify(answer), { status: upstream.status, headers });
  },
};
