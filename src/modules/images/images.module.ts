import { Module } from '@nestjs/common';
import { ImagesController } from './images.controller.js';
import { ImagesService } from './images.service.js';

/** /v1/images: the image catalog (uploads streamed to IMAGE_CATALOG_DIR, recorded on image-<name> streams). */
@Module({ controllers: [ImagesController], providers: [ImagesService] })
export class ImagesModule {}
