import { api, listAll } from '../api.js';
import { errorLine, h, mount, stateTag } from '../dom.js';
import type { Operation, Vm } from '../types.js';
import { liveRefresh } from './live.js';
import { historyPanel, type HistoryPick } from './history.js';
import { consolePanel } from './console-panel.js';

/** One VM: its state, actions, operations and history; refreshed by its own events. */
export async function vmView(root: HTMLElement, signal: AbortSignal, id: string): Promise<void> {
  const q = encodeURIComponent(id);
  const summary = h('section');
  const ops = h('section');
  const history = h('section');
  const status = h('div');
  let shown: { revision: number | undefined; pick?: HistoryPick } | undefined;
  const refresh = async () => {
    const [vm, operations] = await Promise.all([
      api<Vm>('GET', `/v1/vms/${q}`),
      listAll<Operation>(`/v1/operations?vmId=${q}`).catch((): Operation[] => []),
    ]);
    mount(summary, vmSummary(vm), actions(vm, status));
    mount(ops, h('h2', {}, 'Operations'), opsTable(operations));
    // Rebuilt only when the VM moved on, keeping the point the user picked unless it was the head.
    if (shown && shown.revision === vm.revision) return;
    const pick = shown?.pick?.();
    const panel = await historyPanel(id, pick?.atHead ? undefined : pick);
    shown = { revision: vm.revision, pick: panel.pick };
    mount(history, panel.element);
  };
  await refresh();
  const live = liveRefresh(`/v1/events/stream?fromPosition=end&vmId=${q}`, signal, refresh);
  // Built once: a refresh of the summary must not cut an attached console.
  const consoleSection = consolePanel(id, signal);
  mount(
    root,
    h('p', {}, h('a', { href: '#/vms' }, '← all VMs'), ' · ', live),
    summary,
    status,
    consoleSection,
    ops,
    history,
  );
}

function vmSummary(vm: Vm): HTMLElement[] {
  return [
    h('h1', {}, vm.name, ' ', stateTag(vm.state)),
    h(
      'p',
      {},
      `id ${vm.id} · host ${vm.hostName ?? vm.hostId ?? '—'} · ${vm.vcpus} vCPU · ${vm.memoryMiB} MiB`,
      vm.revision === undefined ? '' : ` · revision ${vm.revision}`,
    ),
    ...(vm.nics?.length
      ? [h('p', {}, `NICs: ${vm.nics.map((n, i) => `eth${i} ${n.ip} (${n.mac}, network ${n.networkId})`).join(' · ')}`)]
      : []),
  ];
}

/** Start, stop, delete: each asks for confirmation first, then reports the accepted operation. */
function actions(vm: Vm, status: HTMLElement): HTMLElement {
  const q = encodeURIComponent(vm.id);
  const act = (label: string, method: string, path: string) =>
    h(
      'button',
      {
        type: 'button',
        'data-action': label.toLowerCase(),
        onclick: () => {
          if (!confirm(`${label} VM "${vm.name}"?`)) return;
          api<{ operationId?: string }>(method, path)
            .then((r) => mount(status, h('p', { class: 'ok' }, `${label}: operation ${r?.operationId ?? 'accepted'}`)))
            .catch((err: unknown) => mount(status, errorLine(err)));
        },
      },
      label,
    );
  return h(
    'p',
    { class: 'actions' },
    act('Start', 'POST', `/v1/vms/${q}/start`),
    ' ',
    act('Stop', 'POST', `/v1/vms/${q}/stop`),
    ' ',
    act('Delete', 'DELETE', `/v1/vms/${q}`),
  );
}

function opsTable(ops: Operation[]): HTMLElement {
  if (ops.length === 0) return h('p', {}, 'No operations visible.');
  return h(
    'table',
    { id: 'operations' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Kind', 'Status', 'By', 'Started', 'Error'].map((c) => h('th', {}, c)),
      ),
    ),
    h(
      'tbody',
      {},
      ops.map((o) =>
        h(
          'tr',
          { 'data-op': o.id },
          h('td', {}, o.kind),
          h('td', {}, stateTag(o.status)),
          h('td', {}, o.principal ?? ''),
          h('td', {}, o.createdAt),
          h('td', { class: o.error ? 'error' : '' }, o.error ?? ''),
        ),
      ),
    ),
  );
}
