import 'reflect-metadata';
import { createHttpApp } from './runtime/http-app.js';
import { ConfigError, loadConfig } from './config/config.js';
import { RedisNotInstalledError } from './runtime/private-redis.js';
import { createLogger } from './runtime/logger.js';
import { Runtime } from './runtime/runtime.js';
import { startMetricsServer, type MetricsServer } from './runtime/metrics-server.js';

/** One entry; the role comes from --role / ROLE: all (default) | api | worker. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env, process.argv.slice(2));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`virtledger: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  let runtime: Runtime;
  try {
    runtime = await Runtime.create(config, log);
  } catch (err) {
    if (err instanceof RedisNotInstalledError) {
      process.stderr.write(`virtledger: ${err.message}\n`);
      process.exit(2);
    }
    // create() has released whatever it had opened.
    log.fatal({ err }, 'cannot start');
    process.exit(1);
  }
  await runtime.startBackground();
  let app: Awaited<ReturnType<typeof createHttpApp>> | undefined;
  if (config.role !== 'worker') {
    app = await createHttpApp(runtime);
    await app.listen(config.port, process.env.HOST_BIND ?? '0.0.0.0');
    log.info(
      { port: config.port, role: config.role, dataDir: config.dataDir, store: runtime.store?.kind },
      'virtledger listening',
    );
  } else {
    log.info({ role: config.role, hosts: config.workerHosts }, 'virtledger worker running');
  }
  let metricsServer: MetricsServer | undefined;
  if (config.metricsPort !== undefined) {
    // A worker's queue depths, read at each scrape (the API's /metrics reads its own).
    const depths = async () => {
      for (const id of runtime.hosts.servedHosts()) runtime.metrics.setQueueDepth(id, await runtime.hub.depth(id));
    };
    const bind = process.env.HOST_BIND ?? '0.0.0.0';
    // A port already taken (a second worker on one machine) costs the metrics, not the host's jobs.
    metricsServer = await startMetricsServer(runtime.metrics, config.metricsPort, bind, log, depths).catch(
      (err: unknown) => {
        log.error({ err, metricsPort: config.metricsPort }, 'cannot serve /metrics; set METRICS_PORT to a free port');
        return undefined;
      },
    );
    if (metricsServer) log.info({ metricsPort: metricsServer.port }, 'metrics served on /metrics');
  }
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'draining');
    // Stop taking requests first, then let in-flight jobs finish (bounded), then close connections.
    await app?.close().catch(() => undefined);
    await metricsServer?.close();
    await runtime.stop();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

void main();
