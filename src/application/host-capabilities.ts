import type { HostCapabilities } from '../domain/host/host.events.js';

/** Says what a `driver` host at `uri` would declare, without touching any machine; throws when the URI is refused. */
export type CapabilityProbe = (driver: string, uri: string) => HostCapabilities;

/** The driver kinds and their capability probes: the composition root binds it to the driver registry. */
export interface Capabilities {
  kinds(): string[];
  probe: CapabilityProbe;
  /**
   * Why `image` is not in the image catalog of host `hostId` (from its URI alone, no file read, so
   * the answer is the same whether a path exists); undefined when the catalog may hold it.
   */
  imageRefusal(host: { id: string; driver: string; uri: string }, image: string): string | undefined;
}

/**
 * What a host can do: recorded in its HostRegistered event; a host registered
 * before capabilities were recorded is asked of the registry, as it was then.
 * Null when the registry refuses it now (an unknown kind, a URI no longer allowed).
 */
export function capabilitiesOfHost(
  host: { driver: string; uri: string; capabilities?: HostCapabilities | null },
  probe: CapabilityProbe,
): HostCapabilities | null {
  if (host.capabilities) return host.capabilities;
  try {
    return probe(host.driver, host.uri);
  } catch {
    return null;
  }
}
