import type { Command } from 'commander';
import { getJson, resolveServer } from './client.js';
import type { EventItem, EventPage } from './event-row.js';
import { out, printTable, show } from './output.js';
import { withServer, type ServerCommandOptions } from './server-options.js';

/** `vm history <id>`: every event of the VM's stream, oldest first. */
export function registerVmHistory(vm: Command): void {
  withServer(
    vm.command('history').description("a VM's events, oldest first").argument('<id>', 'VM id'),
    'NDJSON output, one event per line',
  ).action(async (id: string, opts: ServerCommandOptions) => {
    const base = resolveServer(opts);
    const items: EventItem[] = [];
    let next: string | null = '0';
    while (next !== null) {
      const page: EventPage = await getJson(
        base,
        `/v1/vms/${encodeURIComponent(id)}/events?fromRevision=${next}&limit=1000`,
      );
      items.push(...page.items);
      next = page.next;
    }
    if (opts.json) {
      for (const e of items) out(JSON.stringify(e));
      return;
    }
    const rows = [['REV', 'POSITION', 'AT', 'TYPE', 'PRINCIPAL', 'CORRELATION', 'REASON']];
    for (const e of items)
      rows.push([
        String(e.revision),
        e.position,
        e.metadata.at,
        e.type,
        e.metadata.principal,
        e.metadata.correlationId,
        show(e.metadata.reason),
      ]);
    printTable(rows);
  });
}
