import { child, children, el, textEl, textOf, type XmlNode } from './xml.js';
import { moOf, moXml, type MoRef, type SoapClient } from './soap-client.js';

/** One object's properties as returned: path → value element (absent paths are missing). */
export interface ObjectProps {
  ref: MoRef;
  props: Map<string, XmlNode>;
}

function specSet(type: string, paths: string[], objectSet: string): string {
  const propSet = el('propSet', textEl('type', type) + paths.map((p) => textEl('pathSet', p)).join(''));
  return el('specSet', propSet + objectSet);
}

function parseObjects(returnval: XmlNode | undefined): ObjectProps[] {
  return children(returnval, 'objects').flatMap((o) => {
    const ref = moOf(child(o, 'obj'));
    if (!ref) return [];
    const props = new Map<string, XmlNode>();
    for (const p of children(o, 'propSet')) {
      const name = textOf(p, 'name');
      const val = child(p, 'val');
      if (name && val) props.set(name, val);
    }
    return [{ ref, props }];
  });
}

/** RetrievePropertiesEx (and its continuations) through the session's PropertyCollector. */
async function retrieve(soap: SoapClient, specs: string, signal?: AbortSignal): Promise<ObjectProps[]> {
  const pc = await soap.service('propertyCollector', signal);
  const res = await soap.call('RetrievePropertiesEx', pc, specs + el('options', ''), signal);
  const out: ObjectProps[] = [];
  let rv = child(res, 'returnval');
  for (;;) {
    out.push(...parseObjects(rv));
    const token = textOf(rv, 'token');
    if (!token) return out;
    rv = child(await soap.call('ContinueRetrievePropertiesEx', pc, textEl('token', token), signal), 'returnval');
  }
}

/** Properties of one object; undefined when it no longer exists (ManagedObjectNotFound). */
export async function propertiesOf(
  soap: SoapClient,
  ref: MoRef,
  paths: string[],
  signal?: AbortSignal,
): Promise<Map<string, XmlNode> | undefined> {
  try {
    const objs = await retrieve(soap, specSet(ref.type, paths, el('objectSet', moXml('obj', ref))), signal);
    return objs[0]?.props ?? new Map();
  } catch (err) {
    if ((err as { faultType?: string }).faultType === 'ManagedObjectNotFound') return undefined;
    throw err;
  }
}

/** Properties of every `type` object below `container` (a ContainerView made and dropped for the call). */
export async function propertiesUnder(
  soap: SoapClient,
  container: MoRef,
  type: string,
  paths: string[],
  signal?: AbortSignal,
): Promise<ObjectProps[]> {
  const vm = await soap.service('viewManager', signal);
  const view = moOf(
    child(
      await soap.call(
        'CreateContainerView',
        vm,
        moXml('container', container) + textEl('type', type) + textEl('recursive', true),
        signal,
      ),
      'returnval',
    ),
  );
  if (!view) throw new Error('CreateContainerView returned no view');
  try {
    const traverse = el(
      'selectSet',
      textEl('name', 'view') + textEl('type', 'ContainerView') + textEl('path', 'view'),
      {
        'xsi:type': 'TraversalSpec',
      },
    );
    return await retrieve(
      soap,
      specSet(type, paths, el('objectSet', moXml('obj', view) + textEl('skip', true) + traverse)),
      signal,
    );
  } finally {
    await soap.call('DestroyView', view, '').catch(() => undefined);
  }
}
