import type { Command } from 'commander';
import { parsePointInTime } from '../http/point-in-time.js';
import type { VmDiff } from '../modules/vms/vms.service.js';
import { CliError, getJson, resolveServer } from './client.js';
import { out, printTable, show } from './output.js';
import { withServer, type ServerCommandOptions } from './server-options.js';

function point(raw: string | undefined, flag: string): string | undefined {
  if (raw === undefined) return undefined;
  if (!parsePointInTime(raw))
    throw new CliError(`${flag} must be a revision number or an ISO 8601 time with a zone, e.g. 2024-05-01T12:00:00Z`);
  return raw;
}

// A closed operation's whole record would push every column aside; --json has the full values.
const CELL = 72;
const clip = (s: string): string => (s.length > CELL ? `${s.slice(0, CELL - 1)}…` : s);

/** `vm diff <id> [--from] [--to]`: each field that changed, old → new, with the event that changed it. */
export function registerVmDiff(vm: Command): void {
  withServer(
    vm
      .command('diff')
      .description('what changed in a VM between two points: each field, old → new, and the event that did it')
      .argument('<id>', 'VM id')
      .option('--from <revision|iso>', 'start (exclusive): a revision or an instant; default: before the VM existed')
      .option('--to <revision|iso>', 'end (inclusive): a revision or an instant; default: the latest revision'),
  ).action(async (id: string, opts: ServerCommandOptions & { from?: string; to?: string }) => {
    const q = new URLSearchParams();
    const from = point(opts.from, '--from');
    const to = point(opts.to, '--to');
    if (from !== undefined) q.set('from', from);
    if (to !== undefined) q.set('to', to);
    const base = resolveServer(opts);
    const d = await getJson<VmDiff>(base, `/v1/vms/${encodeURIComponent(id)}/diff${q.size ? `?${q}` : ''}`);
    if (opts.json) {
      out(JSON.stringify(d));
      return;
    }
    const bound = (b: VmDiff['from']) => (b.revision === null ? 'before it existed' : `revision ${b.revision}`);
    out(`VM ${d.vmId}: ${bound(d.from)} → ${bound(d.to)}, ${d.items.length} changes`);
    if (!d.items.length) return;
    // NEW last: it is the widest (a snapshot record), and the last column is not padded.
    const rows = [['REV', 'AT', 'EVENT', 'PRINCIPAL', 'OPERATION', 'FIELD', 'OLD', 'NEW']];
    for (const c of d.items)
      rows.push([
        String(c.event.revision),
        c.event.at,
        c.event.type,
        c.event.principal,
        c.event.correlationId,
        c.path,
        clip(show(c.old)),
        clip(show(c.new)),
      ]);
    printTable(rows);
  });
}
