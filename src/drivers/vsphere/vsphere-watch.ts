import { setTimeout as sleep } from 'node:timers/promises';
import { child, children, el, textEl, textOf } from './xml.js';
import { moOf, moXml, type SoapClient } from './soap-client.js';
import { VM_PREFIX } from './inventory.js';

/** How long one WaitForUpdatesEx may block in vCenter; the SOAP deadline must be longer. */
const MAX_WAIT_S = 20;

/**
 * A push feed of VM changes: a private PropertyCollector with one filter (every VM of the
 * datacenter through a ContainerView: name, power state, host), drained by WaitForUpdatesEx in a
 * loop. Each changed VM named `vl-<id>` is reported once per update set; the first set (the
 * current state of everything) is not a change and is only used to learn the names.
 */
export function watchVms(
  soap: SoapClient,
  vmFolder: () => Promise<{ type: string; value: string }>,
  onChange: (vmId: string) => void,
  onError: (message: string) => void,
): () => void {
  const stop = new AbortController();
  const names = new Map<string, string>();

  const loop = async (): Promise<void> => {
    while (!stop.signal.aborted) {
      try {
        const signal = stop.signal;
        const folder = await vmFolder();
        const root = await soap.service('propertyCollector', signal);
        const pc = moOf(child(await soap.call('CreatePropertyCollector', root, '', signal), 'returnval'));
        const viewManager = await soap.service('viewManager', signal);
        const view = moOf(
          child(
            await soap.call(
              'CreateContainerView',
              viewManager,
              moXml('container', folder) + textEl('type', 'VirtualMachine') + textEl('recursive', true),
              signal,
            ),
            'returnval',
          ),
        );
        if (!pc || !view) throw new Error('vCenter gave no property collector or view');
        const spec = el(
          'spec',
          el(
            'propSet',
            textEl('type', 'VirtualMachine') +
              ['name', 'runtime.powerState', 'runtime.host'].map((p) => textEl('pathSet', p)).join(''),
          ) +
            el(
              'objectSet',
              moXml('obj', view) +
                textEl('skip', true) +
                el('selectSet', textEl('name', 'view') + textEl('type', 'ContainerView') + textEl('path', 'view'), {
                  'xsi:type': 'TraversalSpec',
                }),
            ),
        );
        await soap.call('CreateFilter', pc, spec + textEl('partialUpdates', false), signal);
        let version = '';
        try {
          while (!signal.aborted) {
            const res = await soap.call(
              'WaitForUpdatesEx',
              pc,
              textEl('version', version) + el('options', textEl('maxWaitSeconds', MAX_WAIT_S)),
              signal,
            );
            const set = child(res, 'returnval');
            if (!set) continue; // maxWaitSeconds passed with nothing new
            const first = version === '';
            version = textOf(set, 'version') ?? version;
            const changed = new Set<string>();
            for (const fs of children(set, 'filterSet')) {
              for (const ou of children(fs, 'objectSet')) {
                const ref = moOf(child(ou, 'obj'));
                if (!ref) continue;
                for (const c of children(ou, 'changeSet')) {
                  if (textOf(c, 'name') === 'name') names.set(ref.value, textOf(child(c, 'val')) ?? '');
                }
                const name = names.get(ref.value);
                if (textOf(ou, 'kind') === 'leave') names.delete(ref.value);
                if (!first && name?.startsWith(VM_PREFIX)) changed.add(name.slice(VM_PREFIX.length));
              }
            }
            for (const id of changed) onChange(id);
          }
        } finally {
          await soap.call('DestroyPropertyCollector', pc, '').catch(() => undefined);
          await soap.call('DestroyView', view, '').catch(() => undefined);
        }
      } catch (err) {
        if (stop.signal.aborted) return;
        onError(`vSphere watch: ${err instanceof Error ? err.message : String(err)}`);
        // vCenter restarting or the network gone: try again, without hammering it.
        await sleep(2_000, undefined, { signal: stop.signal }).catch(() => undefined);
      }
    }
  };
  void loop();
  return () => stop.abort();
}
