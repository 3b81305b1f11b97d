import { createHash, timingSafeEqual } from 'node:crypto';
import type { TokenEntry } from './auth-tokens.js';
import type { Principal } from './roles.js';

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/**
 * Tokens are compared as sha256 digests with timingSafeEqual, over every
 * entry without early exit, so neither the token's length nor which entry
 * matched leaks through timing.
 */
export class TokenVerifier {
  private readonly entries: Array<{ digest: Buffer; principal: Principal }>;

  constructor(tokens: TokenEntry[]) {
    this.entries = tokens.map((t) => {
      const d = digest(t.token);
      return { digest: d, principal: { role: t.role, id: `${t.role}#${d.toString('hex').slice(0, 8)}` } };
    });
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
