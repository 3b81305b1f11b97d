import type { ImageFormat } from './image.events.js';

/**
 * `usedBy`: the VMs (not deleted) whose `image` names this one, as the caller found them; the
 * decider refuses to delete or replace an image a VM still overlays.
 */
export type ImageCommand =
  | {
      type: 'UploadImage';
      name: string;
      format: ImageFormat;
      sizeBytes: number;
      sha256: string;
      principal: string;
      /** From `If-None-Match: *`: refuse when the image already exists. */
      onlyIfAbsent: boolean;
      usedBy: readonly string[];
    }
  | { type: 'DeleteImage'; name: string; principal: string; usedBy: readonly string[] };
