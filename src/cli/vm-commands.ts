/** `virtledger vm ls|create|start|stop|…|why`: a VM's daily life (state/history/diff live in their own files). */
import type { Command } from 'commander';
import type { VmView } from '../modules/vms/vm.view.js';
import type { WhyView } from '../modules/vms/why.js';
import { CliError, getJson, send } from './client.js';
import {
  accepted,
  intOption,
  operationOptions,
  printFields,
  printList,
  reasonOption,
  reasonQuery,
  serverCommand,
  withReason,
  type Opts,
} from './command-kit.js';
import { out } from './output.js';
import { collectKeys } from './repeat-option.js';

/** `--selector zone=a --selector rack=r1` → {zone: 'a', rack: 'r1'} (the API checks keys and values). */
function selectorOf(pairs: string[] | undefined): Record<string, string> | undefined {
  if (!pairs?.length) return undefined;
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new CliError(`--selector must be label=value, got "${pair}"`);
    out[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return out;
}

const id = (s: string) => encodeURIComponent(s);

function listQuery(opts: Opts): string {
  const q = new URLSearchParams();
  for (const [opt, param] of [
    ['state', 'state'],
    ['host', 'hostId'],
    ['name', 'name'],
    ['project', 'project'],
    ['at', 'at'],
    ['limit', 'limit'],
    ['cursor', 'cursor'],
  ] as const)
    if (typeof opts[opt] === 'string') q.set(param, opts[opt] as string);
  if (opts.all) q.set('includeDeleted', 'true');
  const s = q.toString();
  return s ? `?${s}` : '';
}

export function registerVmCommands(vm: Command): void {
  serverCommand(vm, 'ls', 'list VMs', (c) =>
    c
      .alias('list')
      .option('--state <states>', 'only these states (comma list), e.g. running,paused')
      .option('--host <id>', 'only VMs on this host')
      .option('--name <name>', 'only VMs with exactly this name')
      .option('--project <name>', "only this project's VMs")
      .option('--all', 'deleted VMs too')
      .option('--at <iso>', 'the list as it was at that instant')
      .option('--limit <n>', 'page size')
      .option('--cursor <c>', 'the next page (from --json "next")'),
  )(async (base, opts) => {
    const page = await getJson<{ items: VmView[]; next: string | null }>(base, `/v1/vms${listQuery(opts)}`);
    printList(opts, page, ['ID', 'NAME', 'STATE', 'HOST', 'VCPUS', 'MEMORY(MiB)', 'PROJECT'], (v) => [
      v.id,
      v.name,
      v.state,
      v.hostName ?? v.hostId ?? '-',
      String(v.vcpus),
      String(v.memoryMiB),
      v.project,
    ]);
  });

  serverCommand(vm, 'create <name>', 'create a VM (placement picks a host unless --host)', (c) =>
    operationOptions(
      c
        .requiredOption('--vcpus <n>', 'vCPUs')
        .requiredOption('--memory <MiB>', 'memory in MiB')
        .option('--disk <GiB>', 'disk in GiB', '1')
        .option('--max-vcpus <n>', 'vCPUs it may grow to while running (default: min(64, 4 × vcpus))')
        .option('--max-memory <MiB>', 'memory it may grow to while running (default: 4 × memory)')
        .option('--host <id>', 'place it on this host')
        .option('--image <name>', 'boot from this catalog image')
        .option('--project <name>', 'the project it belongs to')
        .option('--placement-group <id>', 'join this placement group (its affinity rule places the VM)')
        .option('--selector <label=value>', 'only hosts carrying this label (repeatable)', collectKeys)
        .option('--placement <strategy>', 'spread (most free host) or pack (fullest that fits)')
        .option(
          '--nic <networkId>',
          'a NIC on this network (repeatable, at most 4)',
          (v: string, prev: string[] = []) => [...prev, v],
        )
        .option('--no-start', 'create it stopped')
        .option(
          '--restart-policy <policy>',
          'never (default), on-crash or always: what healing does when it goes down',
        ),
    ),
  )(async (base, opts, name) => {
    const hostSelector = selectorOf(opts.selector as string[] | undefined);
    const body = withReason(
      {
        name,
        vcpus: intOption('vcpus', opts.vcpus as string, 1),
        memoryMiB: intOption('memory', opts.memory as string, 1),
        diskGiB: intOption('disk', opts.disk as string, 1),
        ...(opts.maxVcpus !== undefined ? { maxVcpus: intOption('max-vcpus', opts.maxVcpus as string, 1) } : {}),
        ...(opts.maxMemory !== undefined ? { maxMemoryMiB: intOption('max-memory', opts.maxMemory as string, 1) } : {}),
        ...(opts.host ? { hostId: opts.host } : {}),
        ...(opts.image ? { image: opts.image } : {}),
        ...(opts.project ? { project: opts.project } : {}),
        ...(opts.placementGroup ? { placementGroupId: opts.placementGroup } : {}),
        ...(hostSelector ? { hostSelector } : {}),
        ...(opts.placement ? { placement: opts.placement } : {}),
        ...(Array.isArray(opts.nic) ? { nics: (opts.nic as string[]).map((networkId) => ({ networkId })) } : {}),
        ...(opts.start === false ? { start: false } : {}),
        ...(opts.restartPolicy ? { restartPolicy: opts.restartPolicy } : {}),
      },
      opts,
    );
    await accepted(base, opts, await send(base, 'POST', '/v1/vms', body));
  });

  for (const verb of ['start', 'reboot', 'pause', 'resume'] as const)
    serverCommand(
      vm,
      `${verb} <id>`,
      `${verb} a VM`,
      operationOptions,
    )(async (base, opts, vmId) => {
      await accepted(base, opts, await send(base, 'POST', `/v1/vms/${id(vmId!)}/${verb}`, withReason({}, opts)));
    });

  serverCommand(vm, 'stop <id>', 'stop a VM (graceful, then hard after --timeout-ms)', (c) =>
    operationOptions(c.option('--force', 'hard stop at once').option('--timeout-ms <ms>', 'graceful stop deadline')),
  )(async (base, opts, vmId) => {
    const timeoutMs = intOption('timeout-ms', opts.timeoutMs as string | undefined);
    const body = withReason(
      { ...(opts.force ? { force: true } : {}), ...(timeoutMs !== undefined ? { timeoutMs } : {}) },
      opts,
    );
    await accepted(base, opts, await send(base, 'POST', `/v1/vms/${id(vmId!)}/stop`, body));
  });

  serverCommand(vm, 'rm <id>', 'delete a VM and its disks', (c) => operationOptions(c.alias('delete')))(
    async (base, opts, vmId) => {
      await accepted(base, opts, await send(base, 'DELETE', `/v1/vms/${id(vmId!)}${reasonQuery(opts)}`));
    },
  );

  serverCommand(vm, 'migrate <id>', 'move a VM to another host (live unless --cold)', (c) =>
    operationOptions(
      c.option('--to <hostId>', 'target host (default: placement picks)').option('--cold', 'cold migration'),
    ),
  )(async (base, opts, vmId) => {
    const body = withReason({ ...(opts.to ? { targetHostId: opts.to } : {}), live: !opts.cold }, opts);
    await accepted(base, opts, await send(base, 'POST', `/v1/vms/${id(vmId!)}/migrations`, body));
  });

  serverCommand(
    vm,
    'resize <id>',
    'resize a VM: stopped, applied at the next start; running, live where its driver can (up to its max-vcpus/max-memory)',
    (c) =>
      operationOptions(
        c
          .option('--vcpus <n>', 'vCPUs')
          .option('--memory <MiB>', 'memory in MiB')
          .option('--disk <GiB>', 'disk (grows only)'),
      ),
  )(async (base, opts, vmId) => {
    const size = {
      ...(opts.vcpus !== undefined ? { vcpus: intOption('vcpus', opts.vcpus as string, 1) } : {}),
      ...(opts.memory !== undefined ? { memoryMiB: intOption('memory', opts.memory as string, 1) } : {}),
      ...(opts.disk !== undefined ? { diskGiB: intOption('disk', opts.disk as string, 1) } : {}),
    };
    if (Object.keys(size).length === 0) throw new CliError('give --vcpus, --memory and/or --disk');
    // The server requires If-Match: resize what the user last saw, i.e. the VM as it is now.
    const current = await send<VmView>(base, 'GET', `/v1/vms/${id(vmId!)}`);
    const etag = current.headers.get('etag') ?? `"${current.body.revision}"`;
    const answer = await send(base, 'PATCH', `/v1/vms/${id(vmId!)}`, withReason(size, opts), { 'If-Match': etag });
    await accepted(base, opts, answer, () => out(`vm ${vmId} already has that size`));
  });

  serverCommand(
    vm,
    'restart-policy <id> <policy>',
    'never, on-crash or always: what healing does when the VM goes down (recorded at once, any state)',
    reasonOption,
  )(async (base, opts, vmId, policy) => {
    const v = (await send<VmView>(base, 'PATCH', `/v1/vms/${id(vmId!)}`, withReason({ restartPolicy: policy }, opts)))
      .body;
    out(opts.json ? JSON.stringify(v) : `vm ${v.id} restart policy ${v.restartPolicy}`);
  });

  serverCommand(vm, 'why <id>', 'why a state change happened: event, command, principal, reason, causes', (c) =>
    c.option('--revision <n>', 'the change at this revision (default: the latest)'),
  )(async (base, opts, vmId) => {
    const q = opts.revision !== undefined ? `?revision=${encodeURIComponent(String(opts.revision))}` : '';
    const w = await getJson<WhyView>(base, `/v1/vms/${id(vmId!)}/why${q}`);
    if (opts.json) {
      out(JSON.stringify(w));
      return;
    }
    printFields([
      ['event', `${w.event.type} (revision ${w.event.revision}) at ${w.event.at}`],
      ['command', w.command ? JSON.stringify(w.command) : '-'],
      ['principal', w.principal],
      ['reason', w.reason],
      ['automatic', String(w.automatic)],
      ['correlation', w.correlationId],
      ['causes', w.causation.map((c) => `${c.type}@${c.revision}`).join(' ← ') || '-'],
    ]);
  });
}
