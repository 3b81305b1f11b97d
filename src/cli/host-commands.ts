/** `virtledger host …`: the fleet's hosts (register, capacity and labels, drain, evacuate, fence, remove). */
import type { Command } from 'commander';
import type { HostView } from '../modules/hosts/host.view.js';
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
} from './command-kit.js';
import { out } from './output.js';

const id = (s: string) => encodeURIComponent(s);

/** `--label k=v` (repeatable) into a map. */
function labels(raw: string[] | undefined): Record<string, string> | undefined {
  if (!raw) return undefined;
  const map: Record<string, string> = {};
  for (const kv of raw) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new CliError(`--label takes key=value, got "${kv}"`);
    map[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return map;
}
const collect = (v: string, prev: string[] = []) => [...prev, v];

function printHost(h: HostView): void {
  printFields([
    ['id', h.id],
    ['name', h.name],
    ['driver', h.driver],
    ['uri', h.uri],
    ['state', h.state],
    ['vcpus', `${h.allocated.vcpus}/${h.capacity.vcpus}`],
    ['memory', `${h.allocated.memoryMiB}/${h.capacity.memoryMiB} MiB`],
    ['vms', h.vms],
    [
      'labels',
      Object.entries(h.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(',') || '-',
    ],
    ['revision', h.revision],
    ['updated', h.updatedAt],
  ]);
}

function showHost(opts: { json?: boolean }, h: HostView): void {
  if (opts.json) out(JSON.stringify(h));
  else printHost(h);
}

export function registerHostCommands(program: Command): void {
  const host = program.command('host').description('hosts: register, list, capacity/labels, drain, evacuate, remove');

  serverCommand(host, 'ls', 'list hosts (--at: as they were then)', (c) =>
    c.alias('list').option('--at <iso>', 'the list as it was at that instant'),
  )(async (base, opts) => {
    const q = opts.at ? `?at=${encodeURIComponent(String(opts.at))}` : '';
    const page = await getJson<{ items: HostView[] }>(base, `/v1/hosts${q}`);
    printList(opts, page, ['ID', 'NAME', 'DRIVER', 'STATE', 'VCPUS', 'MEMORY(MiB)', 'VMS'], (h) => [
      h.id,
      h.name,
      h.driver,
      h.state,
      `${h.allocated.vcpus}/${h.capacity.vcpus}`,
      `${h.allocated.memoryMiB}/${h.capacity.memoryMiB}`,
      String(h.vms),
    ]);
  });

  serverCommand(
    host,
    'show <id>',
    'one host',
  )(async (base, opts, hostId) => {
    showHost(opts, await getJson<HostView>(base, `/v1/hosts/${id(hostId!)}`));
  });

  serverCommand(host, 'register <name>', 'register a host (admin)', (c) =>
    reasonOption(
      c
        .requiredOption('--driver <kind>', 'qemu, libvirt, container, vsphere or simulated')
        .requiredOption('--uri <uri>', "the driver's URI, e.g. sim://a")
        .requiredOption('--vcpus <n>', 'vCPU capacity')
        .requiredOption('--memory <MiB>', 'memory capacity in MiB')
        .option('--id <id>', 'host id (default: chosen by the server)')
        .option('--label <k=v>', 'a label (repeatable)', collect),
    ),
  )(async (base, opts, name) => {
    const body = withReason(
      {
        name,
        driver: opts.driver,
        uri: opts.uri,
        capacity: {
          vcpus: intOption('vcpus', opts.vcpus as string, 1),
          memoryMiB: intOption('memory', opts.memory as string, 1),
        },
        ...(opts.id ? { id: opts.id } : {}),
        ...(opts.label ? { labels: labels(opts.label as string[]) } : {}),
      },
      opts,
    );
    showHost(opts, (await send<HostView>(base, 'POST', '/v1/hosts', body)).body);
  });

  serverCommand(host, 'patch <id>', 'change capacity and/or labels (labels are replaced as a whole)', (c) =>
    reasonOption(
      c
        .option('--vcpus <n>', 'vCPU capacity')
        .option('--memory <MiB>', 'memory capacity in MiB')
        .option('--label <k=v>', 'a label (repeatable; replaces all labels)', collect),
    ),
  )(async (base, opts, hostId) => {
    const vcpus = intOption('vcpus', opts.vcpus as string | undefined, 1);
    const memoryMiB = intOption('memory', opts.memory as string | undefined, 1);
    if ((vcpus === undefined) !== (memoryMiB === undefined)) throw new CliError('give --vcpus and --memory together');
    const body = withReason(
      {
        ...(vcpus !== undefined ? { capacity: { vcpus, memoryMiB } } : {}),
        ...(opts.label ? { labels: labels(opts.label as string[]) } : {}),
      },
      opts,
    );
    showHost(opts, (await send<HostView>(base, 'PATCH', `/v1/hosts/${id(hostId!)}`, body)).body);
  });

  for (const [verb, what] of [
    ['drain', 'no new VM is placed on it; its VMs stay until moved'],
    ['restore', 'back in service'],
    ['fence', 'an unreachable host is off (admin): its VMs are recovered elsewhere or marked lost'],
  ] as const)
    serverCommand(
      host,
      `${verb} <id>`,
      what,
      reasonOption,
    )(async (base, opts, hostId) => {
      showHost(
        opts,
        (await send<HostView>(base, 'POST', `/v1/hosts/${id(hostId!)}/${verb}`, withReason({}, opts))).body,
      );
    });

  serverCommand(
    host,
    'evacuate <id>',
    'drain, then migrate every VM away (an operation)',
    operationOptions,
  )(async (base, opts, hostId) => {
    await accepted(base, opts, await send(base, 'POST', `/v1/hosts/${id(hostId!)}/evacuate`, withReason({}, opts)));
  });

  serverCommand(host, 'rm <id>', 'deregister a host with no VM left', (c) => reasonOption(c.alias('remove')))(
    async (base, opts, hostId) => {
      const h = (await send<HostView>(base, 'DELETE', `/v1/hosts/${id(hostId!)}${reasonQuery(opts)}`)).body;
      if (opts.json) out(JSON.stringify(h));
      else out(`host ${h.id} removed`);
    },
  );
}
