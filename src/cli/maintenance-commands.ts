/**
 * What the people who run the control plane reach for besides daily work: what a host's driver
 * really runs (`host domains`), the read models (`projection ls|rebuild`), and the auditors'
 * server-side checks (`audit seals`, `audit replay-check`).
 */
import type { Command } from 'commander';
import { EXIT_FAILED, getJson } from './client.js';
import { accepted, operationOptions, printFields, printList, send, serverCommand, withReason } from './command-kit.js';
import { out, printTable, show } from './output.js';

const id = (s: string) => encodeURIComponent(s);

interface DomainRow {
  vmId: string;
  state: string;
  managed: boolean;
  detail?: string;
  pid?: number;
}

export function registerHostDomains(host: Command): void {
  serverCommand(
    host,
    'domains <id>',
    "what the host's driver really runs, ours and not (asks the host's worker)",
  )(async (base, opts, hostId) => {
    const page = await getJson<{ items: DomainRow[] }>(base, `/v1/hosts/${id(hostId!)}/domains`);
    printList(opts, page, ['VM', 'STATE', 'MANAGED', 'PID', 'DETAIL'], (d) => [
      d.vmId,
      d.state,
      d.managed ? 'yes' : 'no',
      d.pid !== undefined ? String(d.pid) : '-',
      d.detail ?? '-',
    ]);
  });
}

export function registerProjectionCommands(program: Command): void {
  const projection = program.command('projection').description('the read models: positions, rebuild');
  serverCommand(projection, 'ls', 'each read model and the log position it has applied', (c) => c.alias('list'))(
    async (base, opts) => {
      const page = await getJson<{ items: Array<{ name: string; position: string | null }> }>(base, '/v1/projections');
      printList(opts, page, ['NAME', 'POSITION'], (p) => [p.name, p.position ?? '-']);
    },
  );
  serverCommand(projection, 'rebuild <name>', 'rebuild a read model from the log, swapped in when done (admin)', (c) =>
    operationOptions(c),
  )(async (base, opts, name) => {
    await accepted(base, opts, await send(base, 'POST', `/v1/projections/${id(name!)}/rebuild`, withReason({}, opts)));
  });
}

interface Seal {
  sequence: number;
  position: string;
  count: number;
  root: string;
  sealedAt: string;
}
interface ReplayCheck {
  consistent: boolean;
  position: string | null;
  eventsReplayed: number;
  recordsCompared: number;
  differenceCount: number;
  differences: Array<{ readModel: string; key: string; path: string; kind: string; live: unknown; replayed: unknown }>;
  durationMs: number;
}

export function registerAuditChecks(audit: Command): void {
  serverCommand(audit, 'seals', 'the signed seals over the log (--key: the public key that verifies them)', (c) =>
    c.option('--key', 'print the public key (PEM) instead'),
  )(async (base, opts) => {
    if (opts.key) {
      const key = await getJson<{ pem: string; keyId: string }>(base, '/v1/audit/seals/key');
      out(opts.json ? JSON.stringify(key) : key.pem.trimEnd());
      return;
    }
    const list = await getJson<{ seals: Seal[] }>(base, '/v1/audit/seals');
    if (opts.json) return out(JSON.stringify(list));
    printTable([
      ['SEQ', 'POSITION', 'EVENTS', 'SEALED AT', 'ROOT'],
      ...list.seals.map((s) => [String(s.sequence), s.position, String(s.count), s.sealedAt, s.root]),
    ]);
  });
  serverCommand(
    audit,
    'replay-check',
    'replay the whole log into scratch read models and compare them with the live ones (exit 1 on a difference)',
  )(async (base, opts) => {
    const r = await getJson<ReplayCheck>(base, '/v1/audit/replay-check');
    if (opts.json) out(JSON.stringify(r));
    else {
      printFields([
        ['consistent', r.consistent],
        ['position', r.position],
        ['events replayed', r.eventsReplayed],
        ['records compared', r.recordsCompared],
        ['differences', r.differenceCount],
        ['took', `${r.durationMs} ms`],
      ]);
      for (const d of r.differences)
        out(`${d.readModel} ${d.key} ${d.path}: ${d.kind} live=${show(d.live)} replayed=${show(d.replayed)}`);
    }
    if (!r.consistent) process.exitCode = EXIT_FAILED;
  });
}
