import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { AppConfig } from '../../config/config.js';

export type TokenRole = 'admin' | 'operator' | 'auditor' | 'viewer';
export interface TokenEntry {
  role: TokenRole;
  token: string;
}

/**
 * AUTH_TOKENS when set; otherwise one admin token kept in DATA_DIR/admin.token
 * (created once, mode 0600, reused across restarts). The token itself is
 * never logged, only where to find it.
 */
export function resolveTokens(config: AppConfig, log: Logger): TokenEntry[] {
  if (config.authTokens) return config.authTokens;
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
