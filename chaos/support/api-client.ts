/** A user's HTTP client: fetch with a bearer token, JSON both ways, never throws on a status. */
export interface ApiResponse {
  status: number;
  body: Record<string, unknown>;
  /** The ETag header when the answer has one (a VM's revision: reads, and VM commands' 202). */
  etag?: string;
}

export class ApiClient {
  constructor(
    readonly base: string,
    readonly token: string,
  ) {}

  async call(method: string, path: string, body?: object, timeoutMs = 30000): Promise<ApiResponse> {
    try {
      const res = await fetch(this.base + path, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      let parsed: Record<string, unknown> = {};
      try {
        parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        parsed = { text };
      }
      const etag = res.headers.get('etag');
      return { status: res.status, body: parsed, ...(etag ? { etag } : {}) };
    } catch (err) {
      // Connection refused or timed out: status 0, so a caller can tell "no answer" from an HTTP error.
      return { status: 0, body: { message: err instanceof Error ? err.message : String(err) } };
    }
  }

  get(path: string): Promise<ApiResponse> {
    return this.call('GET', path);
  }

  post(path: string, body: object = {}): Promise<ApiResponse> {
    return this.call('POST', path, body);
  }

  delete(path: string): Promise<ApiResponse> {
    return this.call('DELETE', path);
  }

  /** Polls /health until it answers 200 (the process is up and its dependencies reachable). */
  async waitHealthy(timeoutMs = 30000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.call('GET', '/health', undefined, 3000);
      if (r.status === 200) return;
      if (Date.now() > deadline) throw new Error(`${this.base}/health never answered 200: ${JSON.stringify(r)}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }
}
