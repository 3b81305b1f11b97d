import {
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  HttpException,
  Inject,
  Param,
  Put,
  Query,
  Req,
  Res,
  ForbiddenException,
} from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiHeader, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiAnswer } from '../../http/openapi/decorators.js';
import type { Request, Response } from 'express';
import { rm } from 'node:fs/promises';
import { detectImageFormat } from '../../application/image-format.js';
import { DomainError } from '../../domain/domain-error.js';
import { NAME_PATTERN, NAME_RULE } from '../../domain/patterns.js';
import { badField } from '../../http/as-of.query.js';
import { CurrentPrincipal } from '../../http/auth/principal.decorator.js';
import { allProjectsOnly, seesAll } from '../../http/auth/project-scope.js';

/**
 * The catalog is one for every project: a tenant that could add or replace an image
 * would choose what another tenant's VMs boot (a name taken first, bytes swapped).
 * So only a principal of every project changes it, as public images in Glance are an
 * admin's act; tenants read it and boot from it.
 */
const catalogWriters = (p: Principal): string =>
  allProjectsOnly(
    p,
    'change the image catalog',
    'it is shared by every project',
    'an admin (or a user of all projects)',
  );
import { READERS, Roles, type Principal } from '../../http/auth/roles.js';
import { errorBody } from '../../http/error-body.js';
import { LOGGER } from '../../http/tokens.js';
import type { Logger } from 'pino';
import { BadChecksumHeader, claimedSha256, receiveUpload, UploadAborted, UploadTooLarge } from './image-upload.js';
import type { ImageView } from './image.view.js';
import { ImagesService } from './images.service.js';
import { ImagePage, ImageResponse } from './dto/image.response.js';

const IMAGE_LOCATION = { Location: { description: 'The image: /v1/images/{name}', schema: { type: 'string' } } };

function checkName(name: string): void {
  if (!NAME_PATTERN.test(name)) throw badField('name', NAME_RULE);
}

/** A refusal after which the client may still be sending: answer, then close the connection. */
function closing(res: Response, status: number, message: string, details?: unknown): HttpException {
  res.setHeader('Connection', 'close');
  return new HttpException(errorBody(status, message, details), status);
}

@ApiTags('images')
@ApiBearerAuth()
@Controller('v1/images')
export class ImagesController {
  constructor(
    private readonly images: ImagesService,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  /**
   * Streams the body to the catalog (never held in memory), sha256 computed while writing; the
   * format is read from the content. Nothing is recorded unless every check passes: 413 past
   * IMAGE_MAX_BYTES, 400 on a checksum header that does not match, 415 when the bytes are no
   * image, 412 with `If-None-Match: *` when the name exists, 409 replacing bytes a VM uses.
   * 201 for a new image, 200 when it replaced (or repeated) one.
   */
  @ApiAnswer('Upload (or replace) an image', ImageResponse, {
    status: 201,
    description: 'Created: a new image',
    headers: IMAGE_LOCATION,
  })
  @ApiResponse({
    status: 200,
    description: 'Replaced (or repeated) an image',
    type: ImageResponse,
    headers: IMAGE_LOCATION,
  })
  @Put(':name')
  @Roles('operator')
  @ApiConsumes('application/octet-stream')
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  @ApiHeader({ name: 'If-None-Match', required: false, description: '`*`: refuse (412) when the image exists' })
  @ApiHeader({
    name: 'X-Checksum-Sha256',
    required: false,
    description: 'sha256 of the body (hex or base64); also Digest / Content-Digest',
  })
  async upload(
    @Param('name') name: string,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
    @CurrentPrincipal() p: Principal,
    @Headers('if-none-match') ifNoneMatch?: string,
    @Query('reason') reason?: string,
  ): Promise<ImageView> {
    if (!seesAll(p)) throw closing(res, 403, catalogWriters(p));
    checkName(name);
    if (req.readableEnded || (req.headers['content-type'] ?? '').toLowerCase().startsWith('application/json')) {
      throw closing(res, 415, 'send the image bytes as application/octet-stream (or no Content-Type), not JSON');
    }
    if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') {
      throw badField('If-None-Match', 'must be "*" (refuse to overwrite) when given');
    }
    const onlyIfAbsent = ifNoneMatch !== undefined;
    let claimed: { header: string; hex: string } | undefined;
    try {
      claimed = claimedSha256(req.headers);
    } catch (err) {
      if (err instanceof BadChecksumHeader) throw badField(err.header, err.message.slice(err.header.length + 1));
      throw err;
    }
    const max = this.images.config.imageMaxBytes;
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > max)
      throw closing(res, 413, `image of ${declared} bytes is larger than IMAGE_MAX_BYTES (${max} bytes)`);
    if (onlyIfAbsent && (await this.images.state(name)).exists) {
      throw closing(res, 412, `image ${name} already exists (If-None-Match: *)`);
    }
    let received;
    try {
      received = await receiveUpload(req, this.images.catalogDir, max);
    } catch (err) {
      if (err instanceof UploadTooLarge) throw closing(res, 413, err.message);
      if (err instanceof UploadAborted) throw closing(res, 400, err.message);
      throw err;
    }
    let kept = false;
    try {
      if (claimed && claimed.hex !== received.sha256) {
        throw badField(
          claimed.header,
          `says sha256 ${claimed.hex} but the body received has sha256 ${received.sha256}; nothing was recorded`,
        );
      }
      const detected = await detectImageFormat(received.path, received.sizeBytes);
      if ('refusal' in detected) {
        throw new HttpException(errorBody(415, `body is not an image: ${detected.refusal}`), 415);
      }
      const usedBy = await this.images.usedBy(name);
      const before = await this.images.state(name);
      await this.images.keep(received.path, name, received.sha256);
      kept = true;
      let result;
      try {
        result = await this.images.run(
          name,
          {
            type: 'UploadImage',
            name,
            format: detected.format,
            sizeBytes: received.sizeBytes,
            sha256: received.sha256,
            principal: p.id,
            onlyIfAbsent,
            usedBy,
          },
          p.id,
          reason,
        );
      } catch (err) {
        // Refused: the new bytes go, unless they are what the catalog records (by now).
        const now = await this.images.state(name);
        if (!(now.exists && now.sha256 === received.sha256)) await this.images.forget(name, received.sha256);
        if (err instanceof DomainError && err.details?.precondition)
          throw new HttpException(errorBody(412, err.message), 412);
        throw err;
      }
      if (result.events.length > 0) await this.images.prune(name, received.sha256);
      res.status(before.exists ? 200 : 201);
      res.setHeader('Location', `/v1/images/${name}`);
      return await this.images.view(name);
    } finally {
      if (!kept) await rm(received.path, { force: true });
    }
  }

  @ApiAnswer('List images', ImagePage)
  @Get()
  @Roles(...READERS)
  async list(): Promise<{ items: ImageView[]; next: null }> {
    return { items: await this.images.list(), next: null };
  }

  @ApiAnswer('Read an image', ImageResponse)
  @Get(':name')
  @Roles(...READERS)
  async get(@Param('name') name: string): Promise<ImageView> {
    checkName(name);
    return this.images.view(name);
  }

  /** Refused (409, naming the VMs) while a VM that is not deleted was created from it. */
  @ApiOperation({ summary: 'Delete an image' })
  @ApiResponse({ status: 204, description: 'Deleted: no body' })
  @Delete(':name')
  @Roles('operator')
  @HttpCode(204)
  async delete(
    @Param('name') name: string,
    @CurrentPrincipal() p: Principal,
    @Query('reason') reason?: string,
  ): Promise<void> {
    if (!seesAll(p)) throw new ForbiddenException(catalogWriters(p));
    checkName(name);
    const usedBy = await this.images.usedBy(name);
    await this.images.run(name, { type: 'DeleteImage', name, principal: p.id, usedBy }, p.id, reason);
    await this.images
      .prune(name)
      .catch((err: unknown) => this.log.warn({ err, image: name }, 'image files not removed'));
  }
}
