/**
 * `virtledger volume ls|show|create|grow|rm` and `vm attach|detach`: disks with their own
 * lifecycle, kept on one host and attached to one VM at a time.
 */
import type { Command } from 'commander';
import type { VolumeView } from '../modules/volumes/volume.view.js';
import { getJson, send } from './client.js';
import {
  accepted,
  intOption,
  operationOptions,
  printFields,
  printList,
  reasonQuery,
  serverCommand,
  withReason,
} from './command-kit.js';
import { out, show } from './output.js';

const id = (s: string) => encodeURIComponent(s);

function showVolume(opts: { json?: boolean }, v: VolumeView): void {
  if (opts.json) return out(JSON.stringify(v));
  printFields([
    ['id', v.id],
    ['name', v.name],
    ['project', v.project],
    ['size', `${v.sizeGiB} GiB`],
    ['host', v.hostId],
    ['status', v.status],
    ['attached to', v.attachedTo],
    ['operation', v.pendingOperation ? `${v.pendingOperation.kind} ${v.pendingOperation.id}` : null],
    ['revision', v.revision],
    ['created', v.createdAt],
    ['updated', v.updatedAt],
  ]);
}

export function registerVolumeCommands(program: Command): void {
  const volume = program.command('volume').description('volumes: disks kept on a host, attached to one VM at a time');

  serverCommand(volume, 'ls', "list your projects' volumes", (c) => c.alias('list'))(async (base, opts) => {
    const page = await getJson<{ items: VolumeView[] }>(base, '/v1/volumes');
    printList(opts, page, ['ID', 'NAME', 'SIZE(GiB)', 'STATUS', 'HOST', 'ATTACHED TO', 'PROJECT'], (v) => [
      v.id,
      v.name,
      String(v.sizeGiB),
      v.status,
      show(v.hostId),
      show(v.attachedTo),
      v.project,
    ]);
  });

  serverCommand(
    volume,
    'show <id>',
    'one volume',
  )(async (base, opts, volumeId) => {
    showVolume(opts, await getJson<VolumeView>(base, `/v1/volumes/${id(volumeId!)}`));
  });

  serverCommand(
    volume,
    'create <name>',
    'create a volume (placement picks the host with most free disk unless --host)',
    (c) =>
      operationOptions(
        c
          .requiredOption('--size <GiB>', 'size in GiB')
          .option('--host <id>', 'keep it on this host')
          .option('--project <name>', 'the project it belongs to'),
      ),
  )(async (base, opts, name) => {
    const body = withReason(
      {
        name,
        sizeGiB: intOption('size', opts.size as string, 1),
        ...(opts.host ? { hostId: opts.host } : {}),
        ...(opts.project ? { project: opts.project } : {}),
      },
      opts,
    );
    await accepted(base, opts, await send(base, 'POST', '/v1/volumes', body));
  });

  serverCommand(volume, 'grow <id>', 'grow a volume (live when attached to a running VM)', (c) =>
    operationOptions(c.requiredOption('--size <GiB>', 'the new size in GiB (grow only)')),
  )(async (base, opts, volumeId) => {
    const body = withReason({ sizeGiB: intOption('size', opts.size as string, 1) }, opts);
    await accepted(base, opts, await send(base, 'PATCH', `/v1/volumes/${id(volumeId!)}`, body));
  });

  serverCommand(volume, 'rm <id>', 'delete a volume no VM holds', (c) => operationOptions(c.alias('delete')))(
    async (base, opts, volumeId) => {
      await accepted(base, opts, await send(base, 'DELETE', `/v1/volumes/${id(volumeId!)}${reasonQuery(opts)}`));
    },
  );
}

export function registerVmVolumeCommands(vm: Command): void {
  serverCommand(
    vm,
    'attach <vm> <volume>',
    'attach a volume (hot-plug on qemu and libvirt; a container takes it at its next start)',
    operationOptions,
  )(async (base, opts, vmId, volumeId) => {
    const body = withReason({ volumeId }, opts);
    await accepted(base, opts, await send(base, 'POST', `/v1/vms/${id(vmId!)}/volumes`, body));
  });

  serverCommand(
    vm,
    'detach <vm> <volume>',
    'detach a volume (hot-unplug on qemu and libvirt)',
    operationOptions,
  )(async (base, opts, vmId, volumeId) => {
    const path = `/v1/vms/${id(vmId!)}/volumes/${id(volumeId!)}${reasonQuery(opts)}`;
    await accepted(base, opts, await send(base, 'DELETE', path));
  });
}
