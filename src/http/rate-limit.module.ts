import type { DynamicModule, Provider } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule, type ThrottlerOptions, type ThrottlerStorage } from '@nestjs/throttler';
import type { AppConfig } from '../config/config.js';
import { FixedWindowStorage } from './fixed-window.storage.js';
import { RateLimitGuard } from './rate-limit.guard.js';

export interface RateLimitWiring {
  imports: DynamicModule[];
  /** The guard, to be listed before the auth guard (global guards run in that order). */
  guards: Provider[];
}

/**
 * The throttler wiring for a config; nothing at all when both limits are 0.
 * `storage` counts the windows (Redis: one budget across API processes); this process's memory otherwise.
 */
export function rateLimitWiring(
  config: Pick<AppConfig, 'rateLimitPerMinute' | 'rateLimitBurst'>,
  storage: ThrottlerStorage = new FixedWindowStorage(),
): RateLimitWiring {
  const throttlers: ThrottlerOptions[] = [];
  if (config.rateLimitBurst > 0) throttlers.push({ name: 'second', ttl: 1000, limit: config.rateLimitBurst });
  if (config.rateLimitPerMinute > 0) throttlers.push({ name: 'minute', ttl: 60000, limit: config.rateLimitPerMinute });
  if (!throttlers.length) return { imports: [], guards: [] };
  return {
    imports: [ThrottlerModule.forRoot({ throttlers, storage, setHeaders: false })],
    guards: [{ provide: APP_GUARD, useClass: RateLimitGuard }],
  };
}
