import type { ImageFormat } from '../../domain/image/image.events.js';
import type { ImageRecord } from '../../projections/read-model.types.js';

export interface ImageView {
  name: string;
  format: ImageFormat;
  sizeBytes: number;
  /** Of the bytes as uploaded (hex): what a worker checks its copy against. */
  sha256: string;
  uploadedBy: string;
  revision: number;
  createdAt: string;
  updatedAt: string;
}

export function toImageView(rec: ImageRecord): ImageView {
  const s = rec.state;
  return {
    name: s.name,
    format: s.format!,
    sizeBytes: s.sizeBytes,
    sha256: s.sha256,
    uploadedBy: s.uploadedBy,
    revision: Number(rec.revision),
    createdAt: rec.createdAt,
    updatedAt: rec.updatedAt,
  };
}
