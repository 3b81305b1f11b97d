import { pino } from 'pino';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AppConfig } from '../src/config/config.js';
import { createHttpApp } from '../src/runtime/http-app.js';
import { freePort } from '../src/runtime/free-port.js';
import { Runtime } from '../src/runtime/runtime.js';
import { waitFor } from '../test/support/wait.js';

/** The app as `npm start` runs it (runtime, its background, HTTP on a free loopback port), logging nothing. */
export async function servedApp(
  config: AppConfig,
): Promise<{ runtime: Runtime; app: NestExpressApplication; base: string }> {
  const runtime = await Runtime.create(config, pino({ level: 'silent' }));
  await runtime.startBackground();
  const app = await createHttpApp(runtime);
  const port = await freePort();
  await app.listen(port, '127.0.0.1');
  return { runtime, app, base: `http://127.0.0.1:${port}` };
}

/**
 * Resolves once the app's own worker pool serves a host (the bench registers one and waits for
 * it); a worker that never comes fails the bench with a message instead of hanging it.
 */
export async function hostWorkerServing(runtime: Runtime, timeoutMs = 60_000): Promise<void> {
  await waitFor(() => runtime.pool.workers.size > 0, {
    what: "the app's host worker to serve the bench host",
    timeoutMs,
    intervalMs: 50,
  });
}
