import type { ImageEvent, ImageFormat } from './image.events.js';

export interface ImageState {
  /** True while the image exists (uploaded and not deleted since). */
  exists: boolean;
  name: string;
  format: ImageFormat | null;
  sizeBytes: number;
  sha256: string;
  /** Who uploaded the current bytes. */
  uploadedBy: string;
  /** How many times bytes were uploaded under this name. */
  uploads: number;
}

export function initialImageState(): ImageState {
  return { exists: false, name: '', format: null, sizeBytes: 0, sha256: '', uploadedBy: '', uploads: 0 };
}

export function evolveImage(state: ImageState, event: ImageEvent): ImageState {
  switch (event.type) {
    case 'ImageUploaded': {
      const d = event.data;
      return {
        exists: true,
        name: d.name,
        format: d.format,
        sizeBytes: d.sizeBytes,
        sha256: d.sha256,
        uploadedBy: d.principal,
        uploads: state.uploads + 1,
      };
    }
    case 'ImageDeleted':
      return { ...state, exists: false };
  }
}
