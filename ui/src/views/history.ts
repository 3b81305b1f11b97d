import { api, listAll } from '../api.js';
import { errorLine, h, mount } from '../dom.js';
import type { FieldChange, LoggedEvent, Vm } from '../types.js';

/**
 * The VM's history as a timeline with a slider: moving it shows the VM as it was at
 * that revision (GET /v1/vms/{id}?revision=) and what changed against a second
 * point (GET /v1/vms/{id}/diff?from=&to=), by default the revision before it.
 */
export type HistoryPick = () => { revision: number; compare: number; atHead: boolean };

export async function historyPanel(
  id: string,
  keep?: { revision: number; compare: number },
): Promise<{ element: HTMLElement; pick?: HistoryPick }> {
  const q = encodeURIComponent(id);
  let events: LoggedEvent[];
  try {
    events = await listAll<LoggedEvent>(`/v1/vms/${q}/events`, 'fromRevision');
  } catch (err) {
    return { element: h('div', {}, h('h2', {}, 'History'), errorLine(err)) };
  }
  if (events.length === 0) return { element: h('div', {}, h('h2', {}, 'History'), h('p', {}, 'No events.')) };
  const first = events[0]!.revision;
  const last = events[events.length - 1]!.revision;
  const slider = h('input', {
    type: 'range',
    id: 'revision',
    min: first,
    max: last,
    step: 1,
    value: keep?.revision ?? last,
  });
  const compare = h('input', {
    type: 'number',
    id: 'compare',
    min: first,
    max: last,
    value: keep?.compare ?? Math.max(first, last - 1),
  });
  const label = h('output', { id: 'revision-label' });
  const timeline = h(
    'ol',
    { class: 'timeline' },
    events.map((e) =>
      h(
        'li',
        { 'data-revision': e.revision },
        `r${e.revision} · ${e.type} · ${e.metadata.at ?? ''} · ${e.metadata.principal ?? ''}`,
      ),
    ),
  );
  const state = h('pre', { id: 'state-at' });
  const diff = h('div', { id: 'diff' });
  let seq = 0;
  const show = async (fromInput: 'slider' | 'compare') => {
    const r = Number(slider.value);
    if (fromInput === 'slider') compare.value = String(Math.max(first, r - 1));
    const c = Number(compare.value);
    const mine = ++seq;
    const ev = events.find((e) => e.revision === r);
    label.textContent = `revision ${r}${ev ? ` (${ev.type})` : ''}`;
    for (const li of timeline.children)
      li.classList.toggle('current', (li as HTMLElement).dataset.revision === String(r));
    try {
      const [vm, d] = await Promise.all([
        api<Vm>('GET', `/v1/vms/${q}?revision=${r}`),
        api<{ items?: FieldChange[] }>('GET', `/v1/vms/${q}/diff?from=${Math.min(c, r)}&to=${Math.max(c, r)}`),
      ]);
      if (mine !== seq) return; // a later move already answered
      state.dataset.revision = String(r);
      state.dataset.state = vm.state;
      state.textContent = JSON.stringify(vm, null, 2);
      mount(diff, diffTable(d.items ?? [], Math.min(c, r), Math.max(c, r)));
    } catch (err) {
      if (mine === seq) mount(diff, errorLine(err));
    }
  };
  slider.addEventListener('input', () => void show('slider'));
  // A click on the timeline moves the slider there.
  timeline.addEventListener('click', (e) => {
    const li = (e.target as Element).closest('li');
    if (!li?.dataset.revision) return;
    slider.value = li.dataset.revision;
    void show('slider');
  });
  compare.addEventListener('change', () => void show('compare'));
  void show(keep ? 'compare' : 'slider');
  const pick: HistoryPick = () => ({
    revision: Number(slider.value),
    compare: Number(compare.value),
    atHead: Number(slider.value) === last,
  });
  const element = h(
    'div',
    {},
    h('h2', {}, 'History'),
    h('label', { for: 'revision' }, 'State at '),
    label,
    slider,
    h('label', {}, 'compare with revision ', compare),
    timeline,
    h('h3', {}, 'State at that revision'),
    state,
    h('h3', {}, 'Changes'),
    diff,
  );
  return { element, pick };
}

function diffTable(changes: FieldChange[], from: number, to: number): HTMLElement {
  if (changes.length === 0) return h('p', {}, `Nothing changed between revisions ${from} and ${to}.`);
  const show = (v: unknown) => (v === null || v === undefined ? '—' : typeof v === 'string' ? v : JSON.stringify(v));
  return h(
    'table',
    {},
    h(
      'thead',
      {},
      h('tr', {}, h('th', {}, 'Field'), h('th', {}, `r${from}`), h('th', {}, `r${to}`), h('th', {}, 'by')),
    ),
    h(
      'tbody',
      {},
      changes.map((c) =>
        h(
          'tr',
          {},
          h('td', {}, c.path),
          h('td', {}, show(c.old)),
          h('td', {}, show(c.new)),
          h('td', { class: 'cause' }, c.event ? `r${c.event.revision} ${c.event.type} · ${c.event.principal}` : ''),
        ),
      ),
    ),
  );
}
