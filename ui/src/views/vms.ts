import { api, listAll } from '../api.js';
import { errorLine, h, mount, stateTag } from '../dom.js';
import type { Accepted, Vm } from '../types.js';
import { liveRefresh } from './live.js';

/** The VM list, kept current by the event stream, and a form to create one. */
export async function vmsView(root: HTMLElement, signal: AbortSignal): Promise<void> {
  const table = h('div');
  const status = h('div');
  const refresh = async () => {
    const vms = await listAll<Vm>('/v1/vms');
    mount(table, vmTable(vms));
  };
  await refresh();
  const live = liveRefresh('/v1/events/stream?fromPosition=end', signal, refresh);
  mount(root, h('h1', {}, 'Virtual machines'), h('p', {}, live), createForm(status), status, table);
}

function createForm(status: HTMLElement): HTMLFormElement {
  const field = (name: string, type: string, value: string, extra: Record<string, string | number> = {}) =>
    h('label', {}, `${name} `, h('input', { name, type, value, required: true, ...extra }));
  const form = h(
    'form',
    { class: 'inline', id: 'create-vm' },
    field('name', 'text', '', { maxlength: 63 }),
    field('vcpus', 'number', '1', { min: 1 }),
    field('memoryMiB', 'number', '256', { min: 16 }),
    field('diskGiB', 'number', '1', { min: 1 }),
    h('button', { type: 'submit' }, 'Create VM'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const body = {
      name: String(data.get('name')),
      vcpus: Number(data.get('vcpus')),
      memoryMiB: Number(data.get('memoryMiB')),
      diskGiB: Number(data.get('diskGiB')),
    };
    api<Accepted>('POST', '/v1/vms', body)
      .then((a) => mount(status, h('p', { class: 'ok' }, `Accepted: VM ${a.vmId}, operation ${a.operationId}`)))
      .catch((err: unknown) => mount(status, errorLine(err)));
  });
  return form;
}

function vmTable(vms: Vm[]): HTMLElement {
  if (vms.length === 0) return h('p', {}, 'No VMs yet.');
  return h(
    'table',
    { id: 'vms' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Name', 'State', 'Host', 'vCPUs', 'Memory'].map((c) => h('th', {}, c)),
      ),
    ),
    h(
      'tbody',
      {},
      vms.map((vm) =>
        h(
          'tr',
          { 'data-vm': vm.id, 'data-name': vm.name },
          h('td', {}, h('a', { href: `#/vms/${encodeURIComponent(vm.id)}` }, vm.name)),
          h('td', {}, stateTag(vm.state)),
          h('td', { title: vm.hostId ?? '' }, vm.hostName ?? vm.hostId ?? '—'),
          h('td', {}, vm.vcpus),
          h('td', {}, `${vm.memoryMiB} MiB`),
        ),
      ),
    ),
  );
}
