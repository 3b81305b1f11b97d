import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { handleCommand, type HandleResult } from '../../application/handle-command.js';
import type { AggregateLoader } from '../../application/load-aggregate.js';
import type { AppConfig } from '../../config/config.js';
import type { ImageCommand } from '../../domain/image/image.commands.js';
import { imageDecider } from '../../domain/image/image.decider.js';
import type { ImageState } from '../../domain/image/image.state.js';
import { imageStream } from '../../domain/streams.js';
import type { ReadModels } from '../../projections/read-models.js';
import {
  AGGREGATES,
  CLOCK,
  CONFIG,
  PROJECTIONS,
  READ_MODELS,
  type Clock,
  type ProjectionControl,
} from '../../http/tokens.js';
import { toImageView, type ImageView } from './image.view.js';

/** Where an image's bytes live: `<catalog>/<name>/<sha256>`, as drivers/kit/catalog-image reads them. */
export function storedPath(catalogDir: string, name: string, sha256: string): string {
  return join(catalogDir, name, sha256);
}

@Injectable()
export class ImagesService {
  constructor(
    @Inject(AGGREGATES) private readonly aggregates: AggregateLoader,
    @Inject(READ_MODELS) private readonly readModels: ReadModels,
    @Inject(PROJECTIONS) private readonly projections: ProjectionControl,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(CONFIG) readonly config: AppConfig,
  ) {}

  get catalogDir(): string {
    return this.config.imageCatalogDir;
  }

  async state(name: string): Promise<ImageState> {
    return (await this.aggregates.load(imageDecider, imageStream(name))).state;
  }

  /**
   * The VMs (not deleted) created from catalog image `name`. Read from the VM read model, which
   * includes every create that was answered (creates wait for it); a create still in flight
   * while the image is deleted fails on its host instead (the worker finds no bytes).
   */
  async usedBy(name: string): Promise<string[]> {
    const out: string[] = [];
    let cursor = 0;
    for (;;) {
      const page = await this.readModels.listVms(cursor, 500);
      for (const rec of page.items) {
        const s = rec.state;
        if (s.state !== 'deleted' && s.spec?.catalogImage?.name === name && s.id) out.push(s.id);
      }
      if (page.next === null) return out;
      cursor = Number(page.next);
    }
  }

  async run(name: string, cmd: ImageCommand, principal: string, reason?: string): Promise<HandleResult<ImageState>> {
    const operationId = randomUUID();
    const result = await handleCommand(
      this.aggregates,
      imageDecider,
      imageStream(name),
      cmd,
      {
        principal,
        correlationId: operationId,
        causationId: `http:${operationId}`,
        ...(reason ? { reason } : {}),
      },
      { now: () => this.clock.now() },
    );
    const last = result.events[result.events.length - 1];
    if (last) await this.projections.waitFor(last.position, 3000, ['images']);
    return result;
  }

  /** Moves a received upload to its content-addressed place (same filesystem: a rename). */
  async keep(tempPath: string, name: string, sha256: string): Promise<void> {
    await mkdir(join(this.catalogDir, name), { recursive: true, mode: 0o700 });
    await rename(tempPath, storedPath(this.catalogDir, name, sha256));
  }

  /** Removes one stored version of `name`. */
  async forget(name: string, sha256: string): Promise<void> {
    await rm(storedPath(this.catalogDir, name, sha256), { force: true });
  }

  /** Removes every stored version of `name` but `keepSha` (after a replace or a delete is recorded). */
  async prune(name: string, keepSha?: string): Promise<void> {
    let files: string[];
    try {
      files = await readdir(join(this.catalogDir, name));
    } catch {
      return;
    }
    await Promise.all(
      files.filter((f) => f !== keepSha).map((f) => rm(join(this.catalogDir, name, f), { force: true })),
    );
    if (!keepSha) await rm(join(this.catalogDir, name), { recursive: true, force: true });
  }

  async view(name: string): Promise<ImageView> {
    const rec = await this.readModels.getImage(name);
    if (!rec || !rec.state.exists) throw new NotFoundException(`image ${name} not found`);
    return toImageView(rec);
  }

  async list(): Promise<ImageView[]> {
    return (await this.readModels.listImages()).filter((r) => r.state.exists).map(toImageView);
  }
}
