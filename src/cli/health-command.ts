/**
 * `virtledger health`: the server's liveness and readiness (`GET /health`, public: no token
 * needed). Unhealthy is an answer, not a failure to ask: it exits 1 and names what is down.
 */
import type { Command } from 'commander';
import { CliError, EXIT_FAILED, resolveServer } from './client.js';
import { printTable, out, show } from './output.js';
import { withServer, type ServerCommandOptions } from './server-options.js';

interface Health {
  status?: string;
  message?: string;
  details?: Record<string, { status?: string } & Record<string, unknown>>;
}

export function registerHealthCommand(program: Command): void {
  withServer(
    program.command('health').description("the server's health: store, Redis, subscriptions, results, workers"),
  ).action(async (opts: ServerCommandOptions) => {
    const base = resolveServer(opts, false);
    let res: Response;
    try {
      res = await fetch(`${base.url}/health`, { headers: { Accept: 'application/json' } });
    } catch (err) {
      throw new CliError(`cannot reach ${base.url}: ${(err as Error).message}`);
    }
    const text = await res.text();
    let h: Health;
    try {
      h = JSON.parse(text) as Health;
    } catch {
      throw new CliError(`${base.url}/health answered ${res.status}, not JSON`);
    }
    if (res.status !== 200 && res.status !== 503) throw new CliError(`${base.url}/health answered ${res.status}`);
    if (opts.json) out(text);
    else {
      out(res.status === 200 ? `status ${h.status ?? 'ok'}` : `unhealthy: ${h.message ?? res.status}`);
      const details = h.details ?? {};
      if (Object.keys(details).length)
        printTable([['CHECK', 'STATUS'], ...Object.entries(details).map(([k, v]) => [k, show(v?.status)])]);
    }
    if (res.status !== 200) process.exitCode = EXIT_FAILED;
  });
}
