// The request's URL path, parsed once per request however many completion callbacks ask for it.

const paths = new WeakMap<Request, string>();

export function requestPath(request: Request): string {
  let path = paths.get(request);
  if (path === undefined) {
    path = new URL(request.url).pathname;
    paths.set(request, path);
  }
  return path;
}
