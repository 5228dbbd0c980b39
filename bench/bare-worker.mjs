// The benchmark's floor: a bare passthrough Worker (`fetch(upstream, request)`) in the same runtime as the gateway.
export default {
  /** @param {Request} request @param {{ UPSTREAM: string }} env */
  fetch(request, env) {
    const url = new URL(request.url);
    return fetch(env.UPSTREAM + url.pathname + url.search, request);
  },
};
