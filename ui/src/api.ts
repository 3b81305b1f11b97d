/**
 * The console's only way to the API. The token lives in sessionStorage (gone with the
 * tab) and travels as an Authorization header, never in a URL where logs and history
 * would keep it.
 */
const TOKEN_KEY = 'virtledger.token';

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  login: (token: string): void => sessionStorage.setItem(TOKEN_KEY, token),
  logout: (): void => sessionStorage.removeItem(TOKEN_KEY),
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function authHeaders(): Record<string, string> {
  const t = session.token();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

/** One JSON request; a non-2xx answer throws with the server's message. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', ...authHeaders() };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const parsed: unknown = text ? safeJson(text) : undefined;
  if (!res.ok) throw new ApiError(res.status, messageOf(parsed) ?? `${res.status} ${res.statusText}`);
  return parsed as T;
}

/** Every item of a paged list (`{items, next}`), following `next` cursors. */
export async function listAll<T>(path: string, cursorParam = 'cursor'): Promise<T[]> {
  const out: T[] = [];
  let next: string | undefined;
  for (let page = 0; page < 100; page++) {
    const sep = path.includes('?') ? '&' : '?';
    const url = next === undefined ? path : `${path}${sep}${cursorParam}=${encodeURIComponent(next)}`;
    const body = await api<{ items?: T[]; next?: string | null } | T[]>('GET', url);
    if (Array.isArray(body)) return body;
    out.push(...(body.items ?? []));
    if (!body.next) break;
    next = body.next;
  }
  return out;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function messageOf(body: unknown): string | undefined {
  if (typeof body === 'string') return body;
  if (body && typeof body === 'object' && 'message' in body) {
    const m = (body as { message: unknown }).message;
    return Array.isArray(m) ? m.join('; ') : String(m);
  }
  return undefined;
}
