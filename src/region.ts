// The region a request comes from, as a Durable Object location hint: the input of admission near the
// caller (docs/architecture.md, "Admission near the caller"). In production it is read from request.cf
// (set by Cloudflare, not by the client); in development and tests an x-gateway-region header may name
// it, so one machine can play callers from everywhere. A continent-level map is a first approximation:
// where.durableobjects.live publishes measured colo-to-hint tables for a finer one.

/** Durable Object location hints (developers.cloudflare.com/durable-objects/reference/data-location/). */
export const REGIONS = ["wnam", "enam", "sam", "weur", "eeur", "apac", "oc", "afr", "me"] as const;
export type Region = (typeof REGIONS)[number];

export const REGION_HEADER = "x-gateway-region";

/** The parts of request.cf used here (IncomingRequestCfProperties). */
export interface RequestGeo {
  continent?: string;
  country?: string;
  longitude?: string;
  colo?: string;
}

/** European countries nearer an eastern European site than a western one. */
const EASTERN_EUROPE = new Set(["AL", "BA", "BG", "BY", "CZ", "EE", "FI", "GR", "HR", "HU", "LT", "LV", "MD", "ME", "MK", "PL", "RO", "RS", "RU", "SI", "SK", "TR", "UA", "XK"]);
/** Asian and African countries served by a Middle East site. */
const MIDDLE_EAST = new Set(["AE", "BH", "CY", "EG", "IL", "IQ", "IR", "JO", "KW", "LB", "OM", "PS", "QA", "SA", "SY", "YE"]);
/** West of this longitude North America is served from the west coast. */
const NAM_WEST_OF = -100;

export function isRegion(value: string): value is Region {
  return (REGIONS as readonly string[]).includes(value);
}

/** The location hint for a caller's geography; null when Cloudflare gave none (e.g. local requests). */
export function regionOfGeo(geo: RequestGeo | undefined): Region | null {
  const continent = geo?.continent;
  const country = geo?.country?.toUpperCase();
  switch (continent) {
    case "NA": {
      const longitude = Number(geo?.longitude);
      return Number.isFinite(longitude) && longitude < NAM_WEST_OF ? "wnam" : "enam";
    }
    case "SA":
      return "sam";
    case "EU":
      return country !== undefined && EASTERN_EUROPE.has(country) ? "eeur" : "weur";
    case "AS":
      return country !== undefined && MIDDLE_EAST.has(country) ? "me" : "apac";
    case "OC":
      return "oc";
    case "AF":
      return country !== undefined && MIDDLE_EAST.has(country) ? "me" : "afr";
    default:
      return null;
  }
}

/** The environments that may name a region by header: local ones only (never staging, nor an unknown name). */
const HEADER_ENVIRONMENTS: ReadonlySet<string> = new Set(["development", "test"]);

/**
 * The region of a request: the x-gateway-region header in development and tests when it names a location
 * hint; otherwise request.cf. A deployed Worker (production, staging) never reads the header: a client
 * must not choose the region its budgets are taken from.
 */
export function regionOf(request: Request, environment: string): Region | null {
  if (HEADER_ENVIRONMENTS.has(environment)) {
    const named = request.headers.get(REGION_HEADER)?.trim().toLowerCase();
    if (named !== undefined && isRegion(named)) return named;
  }
  return regionOfGeo(request.cf as RequestGeo | undefined);
}
