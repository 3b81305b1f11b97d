/** `virtledger op|snapshot|image|project|fleet …`: the smaller resources, one register function each. */
import type { Command } from 'commander';
import type { FleetView } from '../modules/fleet/fleet.view.js';
import type { ImageView } from '../modules/images/image.view.js';
import type { ProjectView } from '../modules/projects/projects.service.js';
import type { OperationView } from '../projections/read-model.types.js';
import type { SnapshotRecord } from '../domain/vm/vm.types.js';
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
import { out, printTable, show } from './output.js';
import { waitOperation } from './wait-operation.js';

const id = (s: string) => encodeURIComponent(s);

function opProgress(o: OperationView): string {
  const p = o.progress;
  if (!p) return '-';
  if (typeof p.percent === 'number') return `${Math.round(p.percent)}%${p.step ? ` ${p.step}` : ''}`;
  if (typeof p.done === 'number') return `${p.done}/${p.total ?? '?'}`;
  return p.step ?? '-';
}

export function registerOpCommands(program: Command): void {
  const op = program.command('op').description('operations: what was asked, by whom, and how it went');
  serverCommand(op, 'ls', 'list operations, newest first', (c) =>
    c
      .alias('list')
      .option('--vm <id>', "only this VM's")
      .option('--status <list>', 'pending,running,succeeded,failed,cancelled')
      .option('--kind <list>', 'e.g. migrate,delete')
      .option('--principal <id>', 'only those this principal started')
      .option('--limit <n>', 'page size'),
  )(async (base, opts) => {
    const q = new URLSearchParams();
    for (const [o, p] of [
      ['vm', 'vmId'],
      ['status', 'status'],
      ['kind', 'kind'],
      ['principal', 'principal'],
      ['limit', 'limit'],
    ] as const)
      if (typeof opts[o] === 'string') q.set(p, opts[o] as string);
    const page = await getJson<{ items: OperationView[] }>(base, `/v1/operations${q.size ? `?${q}` : ''}`);
    printList(opts, page, ['ID', 'KIND', 'STATUS', 'VM', 'PRINCIPAL', 'PROGRESS', 'CREATED', 'ERROR'], (o) => [
      o.id,
      o.kind,
      o.status,
      show(o.vmId),
      o.principal,
      opProgress(o),
      o.createdAt,
      show(o.error),
    ]);
  });
  serverCommand(
    op,
    'show <id>',
    'one operation',
  )(async (base, opts, opId) => {
    const o = await getJson<OperationView>(base, `/v1/operations/${id(opId!)}`);
    if (opts.json) return out(JSON.stringify(o));
    printFields([
      ['id', o.id],
      ['kind', o.kind],
      ['status', o.status],
      ['vm', o.vmId],
      ['principal', o.principal],
      ['reason', o.reason],
      ['progress', opProgress(o)],
      ['error', o.error],
      ['created', o.createdAt],
      ['updated', o.updatedAt],
    ]);
  });
  serverCommand(
    op,
    'wait <id>',
    'follow an operation until it is done (exit 1 if it failed)',
  )(async (base, opts, opId) => {
    const o = await waitOperation(base, opId!);
    out(opts.json ? JSON.stringify(o) : `operation ${o.id} ${o.status}`);
  });
  serverCommand(op, 'cancel <id>', 'cancel an operation in flight: its driver call is aborted (409 once done)', (c) =>
    reasonOption(c),
  )(async (base, opts, opId) => {
    const o = (await send<OperationView>(base, 'DELETE', `/v1/operations/${id(opId!)}${reasonQuery(opts)}`)).body;
    out(opts.json ? JSON.stringify(o) : `operation ${o.id} ${o.status}`);
  });
}

export function registerSnapshotCommands(program: Command): void {
  const snap = program.command('snapshot').description("a VM's snapshots");
  serverCommand(snap, 'ls <vm>', "a VM's snapshots", (c) => c.alias('list'))(async (base, opts, vmId) => {
    const page = await getJson<{ items: SnapshotRecord[] }>(base, `/v1/vms/${id(vmId!)}/snapshots`);
    printList(opts, page, ['NAME', 'MEMORY', 'CREATED'], (s) => [s.name, s.memory ? 'yes' : 'no', show(s.createdAt)]);
  });
  serverCommand(snap, 'create <vm> <name>', 'take a snapshot', (c) =>
    operationOptions(c.option('--no-memory', 'disk only (no memory state)')),
  )(async (base, opts, vmId, name) => {
    const body = withReason({ name, ...(opts.memory === false ? { memory: false } : {}) }, opts);
    await accepted(base, opts, await send(base, 'POST', `/v1/vms/${id(vmId!)}/snapshots`, body));
  });
  serverCommand(
    snap,
    'revert <vm> <name>',
    'revert the VM to a snapshot',
    operationOptions,
  )(async (base, opts, vmId, name) => {
    const path = `/v1/vms/${id(vmId!)}/snapshots/${id(name!)}/revert`;
    await accepted(base, opts, await send(base, 'POST', path, withReason({}, opts)));
  });
  serverCommand(snap, 'rm <vm> <name>', 'delete a snapshot', (c) => operationOptions(c.alias('delete')))(
    async (base, opts, vmId, name) => {
      const path = `/v1/vms/${id(vmId!)}/snapshots/${id(name!)}${reasonQuery(opts)}`;
      await accepted(base, opts, await send(base, 'DELETE', path));
    },
  );
}

export function registerImageCommands(image: Command): void {
  serverCommand(image, 'ls', 'the image catalog', (c) => c.alias('list'))(async (base, opts) => {
    const page = await getJson<{ items: ImageView[] }>(base, '/v1/images');
    printList(opts, page, ['NAME', 'FORMAT', 'SIZE', 'UPLOADED BY', 'UPDATED'], (i) => [
      i.name,
      i.format,
      String(i.sizeBytes),
      i.uploadedBy,
      i.updatedAt,
    ]);
  });
  serverCommand(
    image,
    'show <name>',
    'one image',
  )(async (base, opts, name) => {
    const i = await getJson<ImageView>(base, `/v1/images/${id(name!)}`);
    if (opts.json) return out(JSON.stringify(i));
    printFields(Object.entries(i));
  });
  serverCommand(image, 'rm <name>', 'remove an image no live VM was created from', (c) =>
    reasonOption(c.alias('delete')),
  )(async (base, opts, name) => {
    await send(base, 'DELETE', `/v1/images/${id(name!)}${reasonQuery(opts)}`);
    if (!opts.json) out(`image ${name} removed`);
  });
}

const QUOTAS = ['vms', 'vcpus', 'memoryMiB', 'diskGiB'] as const;
function quotaOptions(c: Command): Command {
  return reasonOption(
    c
      .option('--vms <n|none>', 'at most this many VMs')
      .option('--vcpus <n|none>', 'at most this many vCPUs')
      .option('--memory <MiB|none>', 'at most this much memory')
      .option('--disk <GiB|none>', 'at most this much disk'),
  );
}
function quotas(opts: Record<string, unknown>): Record<string, number | null> {
  const q: Record<string, number | null> = {};
  for (const [key, opt] of [
    ['vms', 'vms'],
    ['vcpus', 'vcpus'],
    ['memoryMiB', 'memory'],
    ['diskGiB', 'disk'],
  ] as const) {
    const raw = opts[opt] as string | undefined;
    if (raw !== undefined) q[key] = raw === 'none' ? null : intOption(opt, raw)!;
  }
  return q;
}
function limits(p: ProjectView, what: 'quotas' | 'usage'): string {
  const o = p[what] as unknown as Record<string, unknown>;
  return QUOTAS.map((k) => `${k}=${show(o?.[k])}`).join(' ');
}

export function registerProjectCommands(program: Command): void {
  const project = program.command('project').description('projects (tenants) and their quotas');
  serverCommand(project, 'ls', 'the projects you can see', (c) => c.alias('list'))(async (base, opts) => {
    const page = await getJson<{ items: ProjectView[] }>(base, '/v1/projects');
    printList(opts, page, ['NAME', 'QUOTAS', 'USAGE'], (p) => [p.name, limits(p, 'quotas'), limits(p, 'usage')]);
  });
  serverCommand(
    project,
    'show <name>',
    'one project',
  )(async (base, opts, name) => {
    const p = await getJson<ProjectView>(base, `/v1/projects/${id(name!)}`);
    if (opts.json) return out(JSON.stringify(p));
    printFields([
      ['name', p.name],
      ['quotas', limits(p, 'quotas')],
      ['usage', limits(p, 'usage')],
      ['created', p.createdAt],
      ['updated', p.updatedAt],
    ]);
  });
  serverCommand(
    project,
    'create <name>',
    'create a project (admin)',
    quotaOptions,
  )(async (base, opts, name) => {
    const q = quotas(opts);
    const body = withReason({ name, ...(Object.keys(q).length ? { quotas: q } : {}) }, opts);
    const p = (await send<ProjectView>(base, 'POST', '/v1/projects', body)).body;
    out(opts.json ? JSON.stringify(p) : `project ${p.name} created`);
  });
  serverCommand(
    project,
    'set-quota <name>',
    'change quotas (admin; "none" lifts a limit)',
    quotaOptions,
  )(async (base, opts, name) => {
    const q = quotas(opts);
    if (!Object.keys(q).length) throw new CliError('give at least one of --vms, --vcpus, --memory, --disk');
    const p = (await send<ProjectView>(base, 'PATCH', `/v1/projects/${id(name!)}`, withReason({ quotas: q }, opts)))
      .body;
    out(opts.json ? JSON.stringify(p) : `project ${p.name}: ${limits(p, 'quotas')}`);
  });
}

export function registerFleetCommand(program: Command): void {
  serverCommand(program, 'fleet', 'every host with its VMs and the operations in flight, now or --at', (c) =>
    c.option('--at <iso>', 'the fleet as it was at that instant'),
  )(async (base, opts) => {
    const q = opts.at ? `?at=${encodeURIComponent(String(opts.at))}` : '';
    const f = await getJson<FleetView>(base, `/v1/fleet${q}`);
    if (opts.json) return out(JSON.stringify(f));
    const rows = [['HOST', 'STATE', 'VCPUS', 'MEMORY(MiB)', 'VM', 'VM STATE', 'OPERATION']];
    for (const h of f.hosts) {
      const cap = [`${h.allocated.vcpus}/${h.capacity.vcpus}`, `${h.allocated.memoryMiB}/${h.capacity.memoryMiB}`];
      if (!h.vms.length) rows.push([h.name, h.state, ...cap, '-', '-', '-']);
      for (const v of h.vms)
        rows.push([h.name, h.state, ...cap, v.name, v.state, v.operation ? v.operation.kind : '-']);
    }
    for (const v of f.unplaced) rows.push(['(unplaced)', '-', '-', '-', v.name, v.state, v.operation?.kind ?? '-']);
    printTable(rows);
  });
}
