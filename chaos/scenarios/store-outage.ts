/**
 * Fault 4: the event store unavailable while users send commands. SQLite: a
 * second process holds an exclusive lock on the file. PostgreSQL: the store
 * reaches the shared server through a TCP proxy of the scenario's own, which
 * is cut (connections reset, new ones refused) and restored; the server
 * itself is never touched. Commands get 503 saying the store is unavailable,
 * a refused command records nothing, and everything works again afterwards.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { Cluster } from '../support/cluster.js';
import { Operations } from '../support/operations.js';
import { commandsThroughOutage } from '../support/outage.js';
import { lockSqlite } from '../support/sqlite-locker.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { verdict, type ScenarioRow } from '../support/verdict.js';
import { createVms } from '../support/workload.js';

export const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export async function postgresReachable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function scenario(kind: 'sqlite' | 'postgres', outageMs: number, vms: number): Promise<ScenarioRow> {
  let proxy: TcpProxy | undefined;
  let storeUrl: string | undefined;
  const schema = `chaos_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  if (kind === 'postgres') {
    const u = new URL(POSTGRES_URL);
    proxy = await TcpProxy.start({ host: u.hostname, port: Number(u.port || 5432) });
    u.hostname = '127.0.0.1';
    u.port = String(proxy.port);
    u.searchParams.set('schema', schema);
    storeUrl = u.toString();
  }
  const c = await Cluster.start({ name: `store-${kind}`, ...(storeUrl ? { eventStoreUrl: storeUrl } : {}) });
  let keep = false;
  try {
    const uri = 'simulated://?latencyMs=100';
    const { hostId, hosts } = await c.startWithHost('sim', 'simulated', uri);
    const ops = new Operations(c.client, new Set([409, 503]));
    const vmIds = await createVms(
      ops,
      Array.from({ length: vms }, (_, i) => ({ name: `so-${i}`, hostId })),
      60000,
    );
    let locker: { release(): Promise<void> } | undefined;
    const out = await commandsThroughOutage(c.client, ops, vmIds, {
      outageMs,
      hostId,
      seed: 17,
      expectMessage: /event store unavailable/,
      cut: async () => {
        if (proxy) await proxy.cut();
        else locker = await lockSqlite(join(c.dataDir, 'events.sqlite3'));
      },
      restore: async () => {
        if (proxy) await proxy.restore();
        else await locker?.release();
      },
    });
    const problems = [...out.problems];
    if (out.refusedDuringOutage === 0) problems.push('no command was refused with 503 during the outage');
    await ops.waitAll(120000);
    const row = await verdict({
      fault: `event store unavailable (${kind === 'sqlite' ? 'SQLite locked' : 'PostgreSQL cut'})`,
      injected: 1,
      cluster: c,
      ops,
      hosts,
      problems,
      strictAnswers: true,
      ambiguousCommitOk: kind === 'postgres',
      notes: [`${outageMs / 1000} s outage: ${out.refusedDuringOutage}×503, ${out.acceptedDuringOutage}×202`],
    });
    keep = row.problems.length > 0;
    return row;
  } finally {
    await c.close(keep);
    await proxy?.cut();
    if (kind === 'postgres') {
      const admin = new pg.Client({ connectionString: POSTGRES_URL });
      await admin.connect();
      await admin.query(`drop schema if exists ${schema} cascade`).catch(() => undefined);
      await admin.end();
    }
  }
}

export const runSqlite = (outageMs: number, vms: number) => scenario('sqlite', outageMs, vms);
export const runPostgres = (outageMs: number, vms: number) => scenario('postgres', outageMs, vms);

export async function run(opts: { quick?: boolean }): Promise<ScenarioRow[]> {
  const ms = opts.quick ? 4000 : 10000;
  const n = opts.quick ? 2 : 6;
  const rows = [await runSqlite(ms, n)];
  if (await postgresReachable()) rows.push(await runPostgres(ms, n));
  return rows;
}
