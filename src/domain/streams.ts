/** Stream naming: one stream per aggregate instance. */
export const vmStream = (vmId: string): string => `vm-${vmId}`;
export const hostStream = (hostId: string): string => `host-${hostId}`;
export const projectStream = (name: string): string => `project-${name}`;

export function vmIdOf(streamId: string): string | undefined {
  return streamId.startsWith('vm-') ? streamId.slice(3) : undefined;
}
export function hostIdOf(streamId: string): string | undefined {
  return streamId.startsWith('host-') ? streamId.slice(5) : undefined;
}
export function projectNameOf(streamId: string): string | undefined {
  return streamId.startsWith('project-') ? streamId.slice(8) : undefined;
}
export const imageStream = (name: string): string => `image-${name}`;
export function imageNameOf(streamId: string): string | undefined {
  return streamId.startsWith('image-') ? streamId.slice(6) : undefined;
}
export const placementGroupStream = (id: string): string => `pgroup-${id}`;
export function placementGroupIdOf(streamId: string): string | undefined {
  return streamId.startsWith('pgroup-') ? streamId.slice(7) : undefined;
}
export const networkStream = (id: string): string => `network-${id}`;
export function networkIdOf(streamId: string): string | undefined {
  return streamId.startsWith('network-') ? streamId.slice(8) : undefined;
}
/** One stream over every network's name, CIDR and VNI (not `network-…`: it is no network). */
export const NETWORK_REGISTRY_STREAM = 'networks-registry';
/** A VM's console sessions (audit only): beside the VM's stream, never in it. */
export const consoleStream = (vmId: string): string => `console-${vmId}`;
export function consoleVmIdOf(streamId: string): string | undefined {
  return streamId.startsWith('console-') ? streamId.slice(8) : undefined;
}
export const volumeStream = (volumeId: string): string => `volume-${volumeId}`;
export function volumeIdOf(streamId: string): string | undefined {
  return streamId.startsWith('volume-') ? streamId.slice(7) : undefined;
}
