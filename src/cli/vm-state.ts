import type { Command } from 'commander';
import { INSTANT_HINT, parseIsoInstant, parseRevisionNumber, REVISION_HINT } from '../http/point-in-time.js';
import type { VmView } from '../modules/vms/vm.view.js';
import { CliError, getJson, resolveServer } from './client.js';
import { out, printTable, show } from './output.js';
import { withServer, type ServerCommandOptions } from './server-options.js';

/** `?at=` / `?revision=` from the options, checked here with the server's own rules. */
export function asOfQuery(opts: { at?: string; revision?: string }): string {
  if (opts.at !== undefined && opts.revision !== undefined) throw new CliError('give --at or --revision, not both');
  if (opts.at !== undefined) {
    if (!parseIsoInstant(opts.at)) throw new CliError(`--at ${INSTANT_HINT}`);
    return `?at=${encodeURIComponent(opts.at)}`;
  }
  if (opts.revision !== undefined) {
    if (parseRevisionNumber(opts.revision) === null) throw new CliError(`--revision ${REVISION_HINT}`);
    return `?revision=${opts.revision}`;
  }
  return '';
}

function snapshots(v: VmView): string {
  return v.snapshots.length ? v.snapshots.map((s) => `${s.name}${s.memory ? ' (memory)' : ''}`).join(', ') : '-';
}

/** `vm state <id> [--at <iso> | --revision <n>]`: the VM now, or as it was then. */
export function registerVmState(vm: Command): void {
  withServer(
    vm
      .command('state')
      .alias('show')
      .description('show a VM now, or as it was at an instant (--at) or after a revision (--revision)')
      .argument('<id>', 'VM id')
      .option('--at <iso>', 'an ISO 8601 time with a zone, e.g. 2024-05-01T12:00:00Z')
      .option('--revision <n>', 'a revision of the VM stream (0 = created)'),
  ).action(async (id: string, opts: ServerCommandOptions & { at?: string; revision?: string }) => {
    const query = asOfQuery(opts);
    const base = resolveServer(opts);
    const v = await getJson<VmView>(base, `/v1/vms/${encodeURIComponent(id)}${query}`);
    if (opts.json) {
      out(JSON.stringify(v));
      return;
    }
    const pending = v.pendingOperation;
    printTable([
      ['FIELD', 'VALUE'],
      ['id', v.id],
      ['name', v.name],
      ['state', v.state],
      ['host', show(v.hostId)],
      ['vcpus', String(v.vcpus)],
      ['memory', `${v.memoryMiB} MiB`],
      ['disk', `${v.diskGiB} GiB`],
      ...(v.image ? [['image', v.image]] : []),
      ...(v.nics?.length ? [['nics', v.nics.map((n) => `${n.ip} ${n.mac} (network ${n.networkId})`).join(', ')]] : []),
      ...(v.volumes?.length
        ? [['volumes', v.volumes.map((x) => `${x.name} ${x.sizeGiB} GiB (${x.volumeId})`).join(', ')]]
        : []),
      ...(v.restartPolicy && v.restartPolicy !== 'never' ? [['restart', v.restartPolicy]] : []),
      ['snapshots', snapshots(v)],
      ['pending', pending ? `${pending.kind} ${pending.id} (${pending.step})` : '-'],
      ...(v.migration ? [['migration', `${v.migration.sourceHostId} → ${v.migration.targetHostId}`]] : []),
      ['revision', String(v.revision)],
      ['created', v.createdAt],
      ['updated', v.updatedAt],
    ]);
  });
}
