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
 * (null when the VM has no host or the host is gone from the read model). Set on the views
 * themselves (each made for this answer by toVmView): a copy of each view was a large share
 * of a list page's allocations.
 */
export async function withHostNames(readModels: ReadModels, views: VmView[]): Promise<VmView[]> {
  const names = await hostNames(readModels, views);
  for (const v of views) v.hostName = v.hostId ? (names.get(v.hostId) ?? null) : null;
  return views;
}
