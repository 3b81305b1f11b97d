import type { CatalogImageRef } from '../domain/vm/vm.types.js';

/**
 * How a worker gets a catalog image onto its host: it returns the `image` value this host's
 * driver takes (a verified local copy). Built by the runtime over drivers/kit/catalog-image.
 */
export interface CatalogImages {
  localImage(ref: CatalogImageRef, signal?: AbortSignal): Promise<string>;
}
