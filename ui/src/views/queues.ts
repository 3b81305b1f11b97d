import { api } from '../api.js';
import { errorLine, h, mount } from '../dom.js';
import type { FailedJob, QueueCounts } from '../types.js';

const COUNTS = ['waiting', 'active', 'delayed', 'failed', 'stalledRedeliveries'] as const;

/**
 * The hosts' job queues for the people who run workers: counts per host, and for a host with
 * failed jobs, each job with its error and attempts and the two things an operator may do with
 * it (each after a confirmation, recorded on the host's stream by the API).
 */
export async function queuesView(root: HTMLElement): Promise<void> {
  const page = await api<{ items: QueueCounts[] }>('GET', '/v1/queues');
  const status = h('div', { id: 'queue-status' });
  const details = h('div', { id: 'failed-jobs' });
  const render = async (): Promise<void> => {
    const fresh = await api<{ items: QueueCounts[] }>('GET', '/v1/queues');
    mount(table, ...rows(fresh.items));
    const withFailed = fresh.items.filter((q) => (q.failed ?? 0) > 0);
    mount(details, ...(await Promise.all(withFailed.map((q) => failedList(q, status, () => void render())))));
  };
  const table = h('tbody', {}, ...rows(page.items));
  mount(
    root,
    h('h1', {}, 'Queues'),
    page.items.length === 0
      ? h('p', {}, 'No hosts registered.')
      : h(
          'table',
          { id: 'queues' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['Host', ...COUNTS].map((c) => h('th', {}, c)),
            ),
          ),
          table,
        ),
    status,
    details,
  );
  await render();
}

function rows(items: QueueCounts[]): HTMLElement[] {
  return items.map((q) =>
    h(
      'tr',
      { 'data-host': q.hostId },
      h('td', { title: q.hostId }, q.hostName),
      COUNTS.map((c) => h('td', { class: c === 'failed' && (q[c] ?? 0) > 0 ? 'error' : '' }, String(q[c] ?? 0))),
    ),
  );
}

async function failedList(q: QueueCounts, status: HTMLElement, refresh: () => void): Promise<HTMLElement> {
  const failed = await api<{ items: FailedJob[] }>('GET', `/v1/queues/${encodeURIComponent(q.hostId)}/failed`);
  const base = `/v1/queues/${encodeURIComponent(q.hostId)}/failed`;
  const act = (job: FailedJob, label: string, method: string, path: string) =>
    h(
      'button',
      {
        type: 'button',
        'data-action': label.toLowerCase(),
        onclick: () => {
          if (!confirm(`${label} job ${job.step} of ${q.hostName}?`)) return;
          api<{ action: string }>(method, path, method === 'POST' ? {} : undefined)
            .then((r) => {
              mount(status, h('p', { class: 'ok' }, `job ${job.id} ${r.action}`));
              refresh();
            })
            .catch((err: unknown) => mount(status, errorLine(err)));
        },
      },
      label,
    );
  return h(
    'section',
    { 'data-failed-host': q.hostId },
    h('h2', {}, `Failed on ${q.hostName}`),
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Step', 'VM', 'Attempts', 'Stalled', 'Failed at', 'Error', ''].map((c) => h('th', {}, c)),
        ),
      ),
      h(
        'tbody',
        {},
        failed.items.map((j) =>
          h(
            'tr',
            { 'data-job': j.id },
            h('td', {}, j.step),
            h('td', {}, j.vmId ? h('a', { href: `#/vms/${encodeURIComponent(j.vmId)}` }, j.vmId) : '—'),
            h('td', {}, String(j.attempts)),
            h('td', {}, String(j.stalled)),
            h('td', {}, j.failedAt ?? '—'),
            h('td', { class: 'error' }, j.error),
            h(
              'td',
              {},
              act(j, 'Retry', 'POST', `${base}/${encodeURIComponent(j.id)}/retry`),
              ' ',
              act(j, 'Discard', 'DELETE', `${base}/${encodeURIComponent(j.id)}`),
            ),
          ),
        ),
      ),
    ),
  );
}
