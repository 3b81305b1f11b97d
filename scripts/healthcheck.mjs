#!/usr/bin/env node
// The image's HEALTHCHECK, aware of the role the container runs:
//   api / all  GET http://127.0.0.1:$PORT/health must answer 2xx within 4 s;
//   worker     serves no API (a hypervisor host needs Redis only): its GET /metrics on
//              METRICS_PORT (default 9464; METRICS_PORT=0 skips this check) must answer 2xx
//              within 3 s, which proves its event loop turns, and Redis (REDIS_URL), its only
//              dependency, must answer PING within 3 s. BullMQ's stalled-job detection is what
//              notices a worker whose jobs are stuck.
// The role and port are read from the running process's own command line (`--role`,
// `--port`, as src/config/config.ts parses them), then ROLE / PORT, as the app does.
import { readdirSync, readFileSync } from 'node:fs';

const ENTRY = 'dist/src/main.js';

/** argv of the running virtledger process (PID 1 without an init, its child with one). */
function mainArgv() {
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let argv;
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // the process ended while we looked
    }
    if (argv.some((a) => a.endsWith(ENTRY))) return argv;
  }
  return undefined;
}

function flag(argv, name) {
  for (let i = 0; i < argv.length; i++) {
    const [key, inline] = argv[i].split('=', 2);
    if (key === name) return inline ?? argv[i + 1];
  }
  return undefined;
}

async function checkWorker() {
  const metricsPort = process.env.METRICS_PORT ?? '9464';
  if (metricsPort !== '0') {
    try {
      const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(3_000) });
      if (!res.ok) throw new Error(`answered ${res.status}`);
    } catch (err) {
      console.error(
        `unhealthy: worker /metrics on port ${metricsPort}: ${err instanceof Error ? err.message : String(err)}`,
      );
      return 1;
    }
  }
  const url = process.env.REDIS_URL;
  if (!url) {
    console.log('healthy: worker process alive (no REDIS_URL: it runs a private redis-server)');
    return 0;
  }
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 3_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    console.log('healthy: worker answers /metrics, Redis answers');
    return 0;
  } catch (err) {
    console.error(`unhealthy: worker cannot reach Redis: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    redis.disconnect();
  }
}

const argv = mainArgv();
if (!argv) {
  console.error(`unhealthy: no ${ENTRY} process`);
  process.exit(1);
}
const role = flag(argv, '--role') ?? process.env.ROLE ?? 'all';
if (role === 'worker') process.exit(await checkWorker());
const port = flag(argv, '--port') ?? process.env.PORT ?? '3000';
try {
  const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(4_000) });
  console.log(`${res.ok ? 'healthy' : 'unhealthy'}: /health answered ${res.status}`);
  process.exit(res.ok ? 0 : 1);
} catch (err) {
  console.error(`unhealthy: /health on port ${port}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
