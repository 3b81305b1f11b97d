/** A tiny HTTP client for the CLI: clear messages for unreachable servers and refused tokens. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

export interface ServerOptions {
  server?: string;
  token?: string;
}

export function resolveServer(opts: ServerOptions): { url: string; token: string } {
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

export async function getJson<T>(base: { url: string; token: string }, path: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(base.url + path, {
      headers: { Authorization: `Bearer ${base.token}`, Accept: 'application/json' },
    });
  } catch (err) {
    throw new CliError(`cannot reach ${base.url}: ${causeOf(err)}`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  const message = (body as { message?: string } | undefined)?.message;
  if (res.status === 401)
    throw new CliError(`token refused by ${base.url} (401 Unauthorized)${message ? `: ${message}` : ''}`);
  if (res.status === 403)
    throw new CliError(
      `token not allowed to ${path.split('?')[0]} on ${base.url} (403 Forbidden)${message ? `: ${message}` : ''}`,
    );
  if (!res.ok)
    throw new CliError(`${base.url}${path.split('?')[0]} answered ${res.status}${message ? `: ${message}` : ''}`);
  if (body === undefined) throw new CliError(`${base.url}${path.split('?')[0]} did not answer JSON`);
  return body as T;
}
