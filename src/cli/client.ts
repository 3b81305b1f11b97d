/**
 * A tiny HTTP client for the CLI: every failure becomes one clear line and an
 * exit code (2 usage, connection, auth or a refused value; 3 not found).
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

export const EXIT_NOT_FOUND = 3;

export interface ServerOptions {
  server?: string;
  token?: string;
}

export interface Server {
  url: string;
  token: string;
}

export function resolveServer(opts: ServerOptions): Server {
  const url = opts.server ?? process.env.VIRTLEDGER_URL;
  const token = opts.token ?? process.env.VIRTLEDGER_TOKEN;
  if (!url) throw new CliError('no server: pass --server <url> or set VIRTLEDGER_URL');
  if (!token) throw new CliError('no token: pass --token <token> or set VIRTLEDGER_TOKEN');
  try {
    new URL(url);
  } catch {
    throw new CliError(`invalid server URL: ${url}`);
  }
  return { url: url.replace(/\/+$/, ''), token };
}

function causeOf(err: unknown): string {
  const e = err as {
    cause?: { code?: string; message?: string; errors?: Array<{ message?: string }> };
    message?: string;
  };
  const c = e?.cause;
  if (c)
    return c.code && c.message && !c.message.includes(c.code)
      ? `${c.code} ${c.message}`
      : c.message || c.code || c.errors?.[0]?.message || String(c);
  return e?.message ?? String(err);
}

/** GET with the bearer token; a server that cannot be reached is named with the cause (ECONNREFUSED…). */
export async function request(base: Server, path: string, accept = 'application/json'): Promise<Response> {
  try {
    return await fetch(base.url + path, { headers: { Authorization: `Bearer ${base.token}`, Accept: accept } });
  } catch (err) {
    throw new CliError(`cannot reach ${base.url}: ${causeOf(err)}`);
  }
}

/** Turns a non-2xx answer into the line a user needs: refused token, forbidden route, unknown id, bad value. */
export async function failure(base: Server, path: string, res: Response): Promise<CliError> {
  const text = await res.text().catch(() => '');
  let message: string | undefined;
  try {
    message = (JSON.parse(text) as { message?: string }).message;
  } catch {
    message = undefined;
  }
  const route = path.split('?')[0];
  const said = message ? `: ${message}` : '';
  if (res.status === 401) return new CliError(`token refused by ${base.url} (401 Unauthorized)${said}`);
  if (res.status === 403) return new CliError(`token not allowed to ${route} on ${base.url} (403 Forbidden)${said}`);
  if (res.status === 404) return new CliError(`not found (404)${said}`, EXIT_NOT_FOUND);
  if (res.status === 400) return new CliError(`refused by the server (400)${said}`);
  return new CliError(`${base.url}${route} answered ${res.status}${said}`);
}

export async function getJson<T>(base: Server, path: string): Promise<T> {
  const res = await request(base, path);
  if (!res.ok) throw await failure(base, path, res);
  const text = await res.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new CliError(`${base.url}${path.split('?')[0]} did not answer JSON`);
  }
}
