import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { handleCommand, type CommandMeta } from '../../application/handle-command.js';
import type { AggregateLoader } from '../../application/load-aggregate.js';
import { DomainError } from '../../domain/domain-error.js';
import { parseCidr } from '../../domain/network/ipv4.js';
import { networkRegistryDecider } from '../../domain/network/network-registry.decider.js';
import { networkDecider } from '../../domain/network/network.decider.js';
import { NETWORK_REGISTRY_STREAM, networkStream } from '../../domain/streams.js';
import { badField } from '../../http/as-of.query.js';
import type { Principal } from '../../http/auth/roles.js';
import { AGGREGATES, CLOCK, PROJECTIONS, READ_MODELS, type Clock, type ProjectionControl } from '../../http/tokens.js';
import type { ReadModels } from '../../projections/read-models.js';
import { toNetworkView, type NetworkView } from './network.view.js';

@Injectable()
export class NetworksService {
  constructor(
    @Inject(AGGREGATES) private readonly aggregates: AggregateLoader,
    @Inject(READ_MODELS) private readonly readModels: ReadModels,
    @Inject(PROJECTIONS) private readonly projections: ProjectionControl,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  private meta(p: Principal, reason?: string): CommandMeta {
    const operationId = randomUUID();
    return {
      principal: p.id,
      correlationId: operationId,
      causationId: `http:${operationId}`,
      ...(reason ? { reason } : {}),
    };
  }

  private now = () => this.clock.now();

  /**
   * The registry claims the name, the CIDR and a VNI first (one stream: of two racing creates
   * the second re-decides against the first and is refused); then the network's own stream is
   * written. Should that second write fail, the claim is withdrawn.
   */
  async create(body: { name: string; cidr: string; nat?: boolean }, p: Principal, reason?: string) {
    const parsed = parseCidr(body.cidr);
    if (!parsed.ok) throw badField('cidr', parsed.problem);
    const networkId = randomUUID();
    const meta = this.meta(p, reason);
    const vni = await this.claim(networkId, body.name, parsed.value.cidr, meta);
    let created;
    try {
      created = await handleCommand(
        this.aggregates,
        networkDecider,
        networkStream(networkId),
        { type: 'CreateNetwork', networkId, name: body.name, cidr: parsed.value.cidr, nat: body.nat ?? false, vni },
        meta,
        { now: this.now },
      );
    } catch (err) {
      await this.unregister(networkId, meta).catch(() => undefined);
      throw err;
    }
    await this.settle(created.events);
    return this.view(networkId, p);
  }

  /**
   * The registry's claim for a new network; its VNI. A claim that blocks it but belongs to a
   * network already deleted (a delete interrupted between its two writes) is withdrawn first.
   */
  private async claim(networkId: string, name: string, cidr: string, meta: CommandMeta): Promise<number> {
    const register = () =>
      handleCommand(
        this.aggregates,
        networkRegistryDecider,
        NETWORK_REGISTRY_STREAM,
        { type: 'RegisterNetwork', networkId, name, cidr },
        meta,
        { now: this.now, maxAttempts: 32 },
      );
    for (let attempt = 0; ; attempt++) {
      try {
        return (await register()).state.live[networkId]!.vni;
      } catch (err) {
        const other = err instanceof DomainError ? err.details?.networkId : undefined;
        if (typeof other !== 'string' || attempt >= 4) throw err;
        const { state } = await this.aggregates.load(networkDecider, networkStream(other));
        if (!state.deleted) throw err;
        await this.unregister(other, meta);
      }
    }
  }

  private async unregister(networkId: string, meta: CommandMeta): Promise<void> {
    await handleCommand(
      this.aggregates,
      networkRegistryDecider,
      NETWORK_REGISTRY_STREAM,
      { type: 'UnregisterNetwork', networkId },
      meta,
      { now: this.now, maxAttempts: 32 },
    );
  }

  private async settle(events: readonly { position: bigint }[]): Promise<void> {
    const last = events[events.length - 1];
    if (last) await this.projections.waitFor(last.position, 3000, ['networks']);
  }

  /** Refused (409 naming the VMs) while any address is allocated; the registry then frees its name, CIDR and VNI. */
  async delete(networkId: string, p: Principal, reason?: string): Promise<void> {
    const { state } = await this.aggregates.load(networkDecider, networkStream(networkId));
    if (!state.exists && !state.deleted) throw new NotFoundException(`network ${networkId} not found`);
    const meta = this.meta(p, reason);
    const result = await handleCommand(
      this.aggregates,
      networkDecider,
      networkStream(networkId),
      { type: 'DeleteNetwork', networkId },
      meta,
      { now: this.now },
    );
    // Also after a delete that was done already: a claim left by an interrupted delete is withdrawn now.
    await this.unregister(networkId, meta);
    await this.settle(result.events);
  }

  async view(networkId: string, p: Principal): Promise<NetworkView> {
    const rec = await this.readModels.getNetwork(networkId);
    if (!rec || !rec.state.exists) throw new NotFoundException(`network ${networkId} not found`);
    return toNetworkView(rec, p);
  }

  /** Live networks, oldest first, one page. */
  async list(p: Principal, cursor: number, limit: number): Promise<{ items: NetworkView[]; next: string | null }> {
    const live = (await this.readModels.listNetworks()).filter((r) => r.state.exists);
    const items = live.slice(cursor, cursor + limit).map((r) => toNetworkView(r, p));
    return { items, next: cursor + limit < live.length ? String(cursor + limit) : null };
  }
}
