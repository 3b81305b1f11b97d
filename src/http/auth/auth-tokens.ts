import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { AppConfig } from '../../config/config.js';

import { readAuthFile, type UserEntry } from './auth-file.js';

export type TokenRole = 'admin' | 'operator' | 'auditor' | 'viewer';
/** An AUTH_TOKENS token (kept in clear, as the variable holds it) or an AUTH_FILE user (its sha256 only). */
export type TokenEntry = { role: TokenRole; token: string } | UserEntry;

/**
 * AUTH_TOKENS and AUTH_FILE users when either is set (both may be); otherwise one
 * admin token kept in DATA_DIR/admin.token (created once, mode 0600, reused across
 * restarts). The token itself is never logged, only where to find it.
 */
export function resolveTokens(config: AppConfig, log: Logger): TokenEntry[] {
  if (config.authTokens || config.authFile) {
    const users = config.authFile ? readAuthFile(config.authFile) : [];
    if (config.authFile) log.info({ file: config.authFile, users: users.length }, 'AUTH_FILE read');
    return [...(config.authTokens ?? []), ...users];
  }
  const file = join(config.dataDir, 'admin.token');
  if (!existsSync(file)) {
    mkdirSync(config.dataDir, { recursive: true });
    writeFileSync(file, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
    log.info({ file }, 'AUTH_TOKENS not set: generated an admin token');
  } else {
    log.info({ file }, 'AUTH_TOKENS not set: using the admin token in');
  }
  return [{ role: 'admin', token: readFileSync(file, 'utf8').trim() }];
}
