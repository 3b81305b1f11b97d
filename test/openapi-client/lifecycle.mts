/**
 * A VM's whole lifecycle through a client generated from /docs-json, as a user of the
 * contract would write it: openapi-fetch over openapi-typescript's `paths`, no cast, no
 * `any`. Not part of `npm run build` (its types do not exist until generated):
 * test/api/openapi-client.test.ts generates ./v1.d.ts from the running app, compiles
 * this file beside it with tsc (strict) and runs it, so a contract that stops
 * describing what the server does fails to compile or to run here.
 */
import createClient from 'openapi-fetch';
import type { components, paths } from './v1.js';

type Operation = components['schemas']['OperationResponse'];
type Vm = components['schemas']['VmResponse'];
type ErrorBody = components['schemas']['ErrorResponse'];

/** What the run saw, for the test to check. */
export interface LifecycleReport {
  hostId: string;
  vmId: string;
  /** Each command: its status code, its Location, and the finished operation. */
  commands: Array<{ name: string; status: number; location: string | null; operation: Operation }>;
  /** The VM's state after each command, in order. */
  states: Array<Vm['state']>;
  snapshots: string[];
  /** The ETag a read gave, and its revision. */
  etag: string | null;
  revision: number;
  /** A command with a stale If-Match: its status and typed error body. */
  stale: { status: number; error: ErrorBody };
  /** The VM read after delete. */
  deleted: Vm['state'];
  /** Where POST /v1/hosts said the new host is. */
  hostLocation: string | null;
  /** A project created, then read back: its name, Location and live VM count. */
  project: { name: string; location: string | null; vms: number };
  /** The image catalog's names, and the hosts /v1/fleet shows. */
  images: string[];
  fleetHosts: string[];
}

function fail(what: string, status: number, error: ErrorBody): never {
  throw new Error(`${what}: ${status} ${error.error}: ${error.message}`);
}

export async function runLifecycle(
  baseUrl: string,
  adminToken: string,
  operatorToken: string,
): Promise<LifecycleReport> {
  const admin = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${adminToken}` } });
  const client = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${operatorToken}` } });
  const commands: LifecycleReport['commands'] = [];
  const states: LifecycleReport['states'] = [];

  /** Long-polls the operation (the server waits, not us) until it is done, within a deadline. */
  async function finished(operationId: string): Promise<Operation> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { data, error, response } = await client.GET('/v1/operations/{id}', {
        params: { path: { id: operationId }, query: { waitMs: 5000 } },
      });
      if (error) fail(`GET operation ${operationId}`, response.status, error);
      if (data.status === 'succeeded' || data.status === 'failed' || data.status === 'cancelled') return data;
      if (Date.now() > deadline) throw new Error(`operation ${operationId} still ${data.status} after 30 s`);
    }
  }

  async function vm(id: string): Promise<Vm> {
    const { data, error, response } = await client.GET('/v1/vms/{id}', { params: { path: { id } } });
    if (error) fail(`GET vm ${id}`, response.status, error);
    return data;
  }

  async function accepted(
    name: string,
    vmId: string,
    sent: Promise<{ data?: { operationId: string }; error?: ErrorBody; response: Response }>,
  ): Promise<void> {
    const { data, error, response } = await sent;
    if (error) fail(name, response.status, error);
    if (!data) throw new Error(`${name}: ${response.status} without a body`);
    const operation = await finished(data.operationId);
    commands.push({ name, status: response.status, location: response.headers.get('Location'), operation });
    states.push((await vm(vmId)).state);
  }

  const host = await admin.POST('/v1/hosts', {
    body: {
      name: 'openapi-hv',
      driver: 'simulated',
      uri: 'simulated://?latencyMs=0',
      capacity: { vcpus: 8, memoryMiB: 8192 },
      reason: 'openapi client test',
    },
  });
  if (host.error) fail('register host', host.response.status, host.error);
  const hostId = host.data.id;

  const created = await client.POST('/v1/vms', {
    body: { name: 'openapi-vm', vcpus: 1, memoryMiB: 64, diskGiB: 1, hostId },
  });
  if (created.error) fail('create VM', created.response.status, created.error);
  const vmId = created.data.vmId;
  if (vmId === undefined) throw new Error('create answered no vmId');
  await accepted('create', vmId, Promise.resolve(created));

  await accepted(
    'stop',
    vmId,
    client.POST('/v1/vms/{id}/stop', { params: { path: { id: vmId } }, body: { force: false, timeoutMs: 5000 } }),
  );

  // A read's ETag guards the next command; the same ETag once the VM moved on is refused.
  const read = await client.GET('/v1/vms/{id}', { params: { path: { id: vmId } } });
  if (read.error) fail('GET vm', read.response.status, read.error);
  const etag = read.response.headers.get('ETag');
  await accepted(
    'start',
    vmId,
    client.POST('/v1/vms/{id}/start', { params: { path: { id: vmId }, header: { 'If-Match': etag ?? '' } } }),
  );
  const staleRes = await client.POST('/v1/vms/{id}/stop', {
    params: { path: { id: vmId }, header: { 'If-Match': etag ?? '' } },
    body: {},
  });
  if (!staleRes.error) throw new Error(`a stale If-Match was accepted: ${staleRes.response.status}`);
  const stale = { status: staleRes.response.status, error: staleRes.error };

  await accepted(
    'snapshot',
    vmId,
    client.POST('/v1/vms/{id}/snapshots', {
      params: { path: { id: vmId }, header: { 'Idempotency-Key': `snap-${vmId}` } },
      body: { name: 'before-upgrade', memory: false },
    }),
  );
  const snaps = await client.GET('/v1/vms/{id}/snapshots', { params: { path: { id: vmId } } });
  if (snaps.error) fail('list snapshots', snaps.response.status, snaps.error);

  await accepted(
    'delete',
    vmId,
    client.DELETE('/v1/vms/{id}', { params: { path: { id: vmId }, query: { reason: 'done' } } }),
  );

  const createdProject = await admin.POST('/v1/projects', {
    body: { name: 'openapi-team', quotas: { vms: 2 }, reason: 'openapi client test' },
  });
  if (createdProject.error) fail('create project', createdProject.response.status, createdProject.error);
  const project = await admin.GET('/v1/projects/{name}', { params: { path: { name: createdProject.data.name } } });
  if (project.error) fail('GET project', project.response.status, project.error);
  const images = await client.GET('/v1/images');
  if (images.error) fail('list images', images.response.status, images.error);
  const fleet = await client.GET('/v1/fleet');
  if (fleet.error) fail('GET fleet', fleet.response.status, fleet.error);

  return {
    hostId,
    vmId,
    commands,
    states,
    snapshots: snaps.data.items.map((s) => s.name),
    etag,
    revision: read.data.revision,
    stale,
    deleted: (await vm(vmId)).state,
    hostLocation: host.response.headers.get('Location'),
    project: {
      name: project.data.name,
      location: createdProject.response.headers.get('Location'),
      vms: project.data.usage.vms,
    },
    images: images.data.items.map((i) => i.name),
    fleetHosts: fleet.data.hosts.map((h) => h.name),
  };
}
