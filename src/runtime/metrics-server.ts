import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * GET /metrics on its own port (METRICS_PORT) for a process without the HTTP API: a
 * worker on a hypervisor host. No auth, like the API's /metrics: bind it to an
 * interface only the Prometheus scraper reaches. `beforeScrape` refreshes the gauges
 * the process can read itself (its hosts' queue depths); its failure still answers.
 */
export async function startMetricsServer(
  metrics: Metrics,
  port: number,
  host: string,
  log: Logger,
  beforeScrape?: () => Promise<void>,
): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ statusCode: 404, error: 'Not Found', message: `${path} is not served here; try /metrics` }),
      );
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' });
      res.end(JSON.stringify({ statusCode: 405, error: 'Method Not Allowed', message: 'GET /metrics' }));
      return;
    }
    void (async () => {
      try {
        await beforeScrape?.().catch((err: unknown) => log.debug({ err }, 'metrics refresh failed'));
        const body = await metrics.render();
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : body);
      } catch (err) {
        log.warn({ err }, 'metrics render failed');
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ statusCode: 500, error: 'Internal Server Error', message: 'metrics render failed' }));
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
