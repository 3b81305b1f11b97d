import type { DynamicModule, Provider } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { AppConfig } from '../config/config.js';
import { FixedWindowStorage } from './fixed-window.storage.js';
import { RATE_LIMIT, RateLimitGuard, type RateLimitSettings } from './rate-limit.guard.js';
import type { RateCounter, RateWindow } from './rate-windows.js';

export interface RateLimitWiring {
  /** Modules the limit needs (none: the guard and its settings are providers of the app module). */
  imports: DynamicModule[];
  /** The guard and its settings, to be listed before the auth guard (global guards run in that order). */
  guards: Provider[];
}

/**
 * The rate-limit wiring for a config; nothing at all when both limits are 0.
 * `counter` counts the windows (Redis: one budget across API processes); this process's memory otherwise.
 */
export function rateLimitWiring(
  config: Pick<AppConfig, 'rateLimitPerMinute' | 'rateLimitBurst'>,
  counter: RateCounter = new FixedWindowStorage(),
): RateLimitWiring {
  const windows: RateWindow[] = [];
  if (config.rateLimitBurst > 0) windows.push({ name: 'second', ttlMs: 1000, limit: config.rateLimitBurst });
  if (config.rateLimitPerMinute > 0) windows.push({ name: 'minute', ttlMs: 60000, limit: config.rateLimitPerMinute });
  if (!windows.length) return { imports: [], guards: [] };
  const settings: RateLimitSettings = { windows, counter };
  return {
    imports: [],
    guards: [
      { provide: RATE_LIMIT, useValue: settings },
      { provide: APP_GUARD, useClass: RateLimitGuard },
    ],
  };
}
