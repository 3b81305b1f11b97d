import type { Decider } from '../decider.js';
import { DomainError } from '../domain-error.js';
import type { ImageCommand } from './image.commands.js';
import type { ImageEvent } from './image.events.js';
import { evolveImage, initialImageState, type ImageState } from './image.state.js';

function inUse(name: string, verb: string, usedBy: readonly string[]): DomainError {
  const shown = usedBy.slice(0, 5).join(', ') + (usedBy.length > 5 ? `, … (${usedBy.length} in all)` : '');
  return new DomainError('conflict', `image ${name} cannot be ${verb}: VMs use it (${shown})`, {
    usedBy: [...usedBy],
  });
}

export function decideImage(cmd: ImageCommand, state: ImageState): ImageEvent[] {
  switch (cmd.type) {
    case 'UploadImage': {
      if (state.exists && cmd.onlyIfAbsent) {
        throw new DomainError('conflict', `image ${cmd.name} already exists (If-None-Match: *)`, {
          precondition: 'If-None-Match',
        });
      }
      // The same bytes again: already done.
      if (state.exists && state.sha256 === cmd.sha256 && state.format === cmd.format) return [];
      // A VM's disk overlays the bytes it was created from: they may not change under it.
      if (state.exists && cmd.usedBy.length > 0) throw inUse(cmd.name, 'replaced', cmd.usedBy);
      const { name, format, sizeBytes, sha256, principal } = cmd;
      return [{ type: 'ImageUploaded', data: { name, format, sizeBytes, sha256, principal } }];
    }
    case 'DeleteImage':
      if (!state.exists) {
        if (state.uploads > 0) return [];
        throw new DomainError('not_found', `image ${cmd.name} not found`);
      }
      if (cmd.usedBy.length > 0) throw inUse(cmd.name, 'deleted', cmd.usedBy);
      return [{ type: 'ImageDeleted', data: { name: cmd.name, principal: cmd.principal } }];
  }
}

export const imageDecider: Decider<ImageCommand, ImageEvent, ImageState> = {
  initialState: initialImageState,
  decide: decideImage,
  evolve: evolveImage,
};
