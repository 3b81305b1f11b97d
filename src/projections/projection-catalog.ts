import { HostsProjection } from './hosts.projection.js';
import { ImagesProjection } from './images.projection.js';
import { NetworksProjection } from './networks.projection.js';
import type { Projection } from './projection.js';
import type { ReadModelKeys } from './read-model.keys.js';
import { VmsProjection } from './vms.projection.js';
import { VolumesProjection } from './volumes.projection.js';

/** Every read model by name, built over a key namespace (the live one, or a shadow for rebuilds and checks). */
export const PROJECTIONS: Readonly<Record<string, (keys: ReadModelKeys) => Projection>> = {
  vms: (keys) => new VmsProjection(keys),
  hosts: (keys) => new HostsProjection(keys),
  images: (keys) => new ImagesProjection(keys),
  networks: (keys) => new NetworksProjection(keys),
  volumes: (keys) => new VolumesProjection(keys),
};

export const PROJECTION_NAMES: readonly string[] = Object.keys(PROJECTIONS);
