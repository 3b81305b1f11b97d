import type { ReadModels } from '../../projections/read-models.js';
import type { VmView } from './vm.view.js';

/** Names of the hosts these views run on, read once per distinct host. */
async function hostNames(readModels: ReadModels, views: VmView[]): Promise<Map<string, string>> {
  const ids = [...new Set(views.map((v) => v.hostId).filter((id): id is string => !!id))];
  const found = await Promise.all(ids.map((id) => readModels.hostName(id)));
  const names = new Map<string, string>();
  ids.forEach((id, i) => {
    const name = found[i];
    if (name) names.set(id, name);
  });
  return names;
}

/**
 * `hostName` beside `hostId`, so a person reading a VM sees "hv-3", not a uuid
 * (null when the VM has no host or the host is gone from the read model).
 */
export async function withHostNames(readModels: ReadModels, views: VmView[]): Promise<VmView[]> {
  const names = await hostNames(readModels, views);
  return views.map((v) => ({ ...v, hostName: v.hostId ? (names.get(v.hostId) ?? null) : null }));
}
