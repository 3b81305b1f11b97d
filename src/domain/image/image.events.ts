import type { DomainEvent } from '../decider.js';

/** What an upload's content was recognised as (see application/image-format.ts). */
export type ImageFormat = 'qcow2' | 'raw' | 'kernel' | 'rootfs';
export const IMAGE_FORMATS: readonly ImageFormat[] = ['qcow2', 'raw', 'kernel', 'rootfs'];

/** The bytes of `name` are now these (a first upload or a replacement). */
export type ImageUploaded = DomainEvent<
  'ImageUploaded',
  { name: string; format: ImageFormat; sizeBytes: number; sha256: string; principal: string }
>;
export type ImageDeleted = DomainEvent<'ImageDeleted', { name: string; principal: string }>;

export type ImageEvent = ImageUploaded | ImageDeleted;
export type ImageEventType = ImageEvent['type'];

export function isImageEventType(type: string): type is ImageEventType {
  return type === 'ImageUploaded' || type === 'ImageDeleted';
}
