/**
 * `LOAD_SERVER_ENV="MAX_REQUESTS_IN_FLIGHT=0 …"`: settings of the load scenario's server (an A/B run of one
 * build), or its allocator (`MALLOC_ARENA_MAX=2 LD_PRELOAD=…`) to tell fragmentation from growth.
 */
export function loadServerEnv(spec = process.env.LOAD_SERVER_ENV ?? ''): Record<string, string> {
  return Object.fromEntries(
    spec
      .split(' ')
      .filter((kv) => kv.includes('='))
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}
