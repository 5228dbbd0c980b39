// KV keys and Durable Object names of the routing layer (the live presets document stays at kvKeys.presets()).

/** An immutable presets version, written once when it is staged or published. */
export const presetsVersionKey = (version: number): string => `config:presets:v:${version}`;

/** The BanditStats object (or Redis hash) holding one route's arm statistics. */
export const banditObjectName = (route: string): string => `route:${route}`;
