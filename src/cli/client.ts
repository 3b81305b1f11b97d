/**
 * A tiny HTTP client for the CLI: every failure becomes one clear line and an
 * exit code (2 usage, connection, auth or a refused value; 3 not found).
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

export const EXIT_NOT_FOUND = 3;
/** An operation followed with --wait failed or was cancelled (as a broken chain: the answer is "no"). */
export const EXIT_FAILED = 1;

export interface ServerOptions {
  server?: string;
  token?: string;
}

export interface Server {
  url: string;
  token: string;
}

/**
 * Where to talk to and as whom: flags override the environment
 * (VIRTLEDGER_URL / VIRTLEDGER_TOKEN), which overrides the config file
 * ($VIRTLEDGER_CONFIG or ~/.config/virtledger/config.json, `{"url": …, "token": …}`).
 */
export function resolveServer(opts: ServerOptions, needToken = true): Server {
  const file = readConfigFile();
  const url = opts.server ?? process.env.VIRTLEDGER_URL ?? file.url;
  const token = opts.token ?? process.env.VIRTLEDGER_TOKEN ?? file.token;
  if (!url) throw new CliError(`no server: pass --server <url> or set VIRTLEDGER_URL (or "url" in ${configPath()})`);
  if (!token && needToken)
    throw new CliError(`no token: pass --token <token> or set VIRTLEDGER_TOKEN (or "token" in ${configPath()})`);
  try {
    new URL(url);
  } catch {
    throw new CliError(`invalid server URL: ${url}`);
  }
  return { url: url.replace(/\/+$/, ''), token: token ?? '' };
}

export function configPath(): string {
  return process.env.VIRTLEDGER_CONFIG || join(homedir(), '.config', 'virtledger', 'config.json');
}

/** A missing file is no config; a file that is there but unreadable is named, not ignored. */
function readConfigFile(): { url?: string; token?: string } {
  const path = configPath();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CliError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError(`config file ${path} is not JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new CliError(`config file ${path}: expected an object like {"url": "...", "token": "..."}`);
  const o = parsed as Record<string, unknown>;
  for (const k of ['url', 'token'])
    if (o[k] !== undefined && typeof o[k] !== 'string')
      throw new CliError(`config file ${path}: "${k}" must be a string`);
  return { url: o.url as string | undefined, token: o.token as string | undefined };
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
  if (res.status === 409) return new CliError(`conflict (409)${said}`);
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

export interface Answer<T> {
  status: number;
  body: T;
  headers: Headers;
}

/**
 * Any method with a JSON body; a non-2xx answer becomes a CliError (409 and 422
 * keep the server's message: they say what to change).
 */
export async function send<T>(
  base: Server,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer<T>> {
  let res: Response;
  try {
    res = await fetch(base.url + path, {
      method,
      headers: {
        Authorization: `Bearer ${base.token}`,
        Accept: 'application/json',
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (err) {
    throw new CliError(`cannot reach ${base.url}: ${causeOf(err)}`);
  }
  if (!res.ok) throw await failure(base, path, res);
  const text = await res.text();
  let parsed: unknown = null;
  if (text !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new CliError(`${base.url}${path.split('?')[0]} did not answer JSON`);
    }
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}
