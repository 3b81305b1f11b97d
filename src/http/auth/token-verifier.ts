import { createHash, timingSafeEqual } from 'node:crypto';
import type { TokenEntry } from './auth-tokens.js';
import type { Principal } from './roles.js';

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/**
 * Tokens are compared as sha256 digests with timingSafeEqual, over every
 * entry without early exit, so neither the token's length nor which entry
 * matched leaks through timing. AUTH_FILE users are known by their digest only.
 */
export class TokenVerifier {
  private readonly entries: Array<{ digest: Buffer; principal: Principal }>;

  constructor(tokens: TokenEntry[]) {
    this.entries = tokens.map((t) => {
      if ('tokenSha256' in t) {
        const principal: Principal = { role: t.role, id: t.name, name: t.name, projects: t.projects };
        return { digest: Buffer.from(t.tokenSha256, 'hex'), principal };
      }
      const d = digest(t.token);
      const id = `${t.role}#${d.toString('hex').slice(0, 8)}`;
      return { digest: d, principal: { role: t.role, id, name: id, projects: tokenProjects(t.role) } };
    });
  }

  /** Per request: the rate limit (which runs first) and authentication verify its token once between them. */
  private readonly byRequest = new WeakMap<object, { token: string; principal: Principal | undefined }>();

  /** `verify` for the token of one request, remembered with the request (and dropped with it). */
  verifyFor(request: object, token: string): Principal | undefined {
    const seen = this.byRequest.get(request);
    if (seen?.token === token) return seen.principal;
    const principal = this.verify(token);
    this.byRequest.set(request, { token, principal });
    return principal;
  }

  verify(token: string): Principal | undefined {
    const d = digest(token);
    let found: Principal | undefined;
    for (const e of this.entries) {
      if (timingSafeEqual(d, e.digest)) found = e.principal;
    }
    return found;
  }
}

/** AUTH_TOKENS predates projects: admins and auditors see everything, operators and viewers the default project. */
function tokenProjects(role: TokenEntry['role']): Principal['projects'] {
  return role === 'admin' || role === 'auditor' ? 'all' : ['default'];
}
