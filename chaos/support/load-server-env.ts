/** `LOAD_SERVER_ENV="MAX_REQUESTS_IN_FLIGHT=0 …"`: settings of the load scenario's server (an A/B run of one build). */
export function loadServerEnv(spec = process.env.LOAD_SERVER_ENV ?? ''): Record<string, string> {
  return Object.fromEntries(
    spec
      .split(' ')
      .filter((kv) => kv.includes('='))
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}
