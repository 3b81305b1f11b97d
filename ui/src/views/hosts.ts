import { listAll } from '../api.js';
import { bar, h, mount, stateTag } from '../dom.js';
import type { Host } from '../types.js';

/** Hosts with what they have and what is allocated on them. */
export async function hostsView(root: HTMLElement): Promise<void> {
  const hosts = await listAll<Host>('/v1/hosts');
  mount(
    root,
    h('h1', {}, 'Hosts'),
    hosts.length === 0
      ? h('p', {}, 'No hosts registered.')
      : h(
          'table',
          { id: 'hosts' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['Name', 'Driver', 'State', 'vCPUs', 'Memory'].map((c) => h('th', {}, c)),
            ),
          ),
          h(
            'tbody',
            {},
            hosts.map((x) =>
              h(
                'tr',
                { 'data-host': x.id },
                h('td', { title: x.id }, x.name),
                h('td', {}, x.driver),
                h('td', {}, stateTag(x.state)),
                h('td', {}, bar(x.allocated.vcpus, x.capacity.vcpus, 'vCPU')),
                h('td', {}, bar(x.allocated.memoryMiB, x.capacity.memoryMiB, 'MiB')),
              ),
            ),
          ),
        ),
  );
}
