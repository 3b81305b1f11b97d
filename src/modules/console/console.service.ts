import {
  ConflictException,
  HttpException,
  Inject,
  Injectable,
  NotFoundException,
  ServiceUnavailableException,
  UnprocessableEntityException,
} from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { ConsoleRefused, type ConsoleHosts, type ConsoleLink } from '../../application/console-sessions.js';
import { handleCommand } from '../../application/handle-command.js';
import { HostDidNotAnswer } from '../../application/host-queries.js';
import type { AggregateLoader } from '../../application/load-aggregate.js';
import type { ConsoleCommand } from '../../domain/console/console.commands.js';
import { consoleDecider } from '../../domain/console/console.decider.js';
import type { ConsoleMode } from '../../domain/console/console.events.js';
import { consoleStream, hostStream, vmStream } from '../../domain/streams.js';
import { hostDecider } from '../../domain/host/host.decider.js';
import { vmDecider } from '../../domain/vm/vm.decider.js';
import { vmProject } from '../../domain/vm/vm.state.js';
import type { VmJobSpec } from '../../domain/vm/vm.types.js';
import { mayUse } from '../../http/auth/project-scope.js';
import type { Principal } from '../../http/auth/roles.js';
import { AGGREGATES, CLOCK, CONSOLES, LOGGER, type Clock } from '../../http/tokens.js';
import type { ConsoleLogView, ConsoleTicketView } from './console.view.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
/** How long a host worker has to attach (QEMU's socket, virsh ttyconsole) or read the log. */
const HOST_TIMEOUT_MS = 10_000;
const TICKET_TTL_MS = 30_000;
/** The log is read up to this many bytes from its end, whatever `tail` asks. */
export const LOG_MAX_BYTES = 256 * 1024;
const SCROLLBACK_BYTES = 4 * 1024;

/** A console the caller may attach to: the VM, where it runs, and its spec as the host's driver takes it. */
export interface ConsoleTarget {
  vmId: string;
  hostId: string;
  spec: VmJobSpec;
}

/** An open session: its link to the host and the one way to end it (recorded once). */
export interface ConsoleSession {
  sessionId: string;
  mode: ConsoleMode;
  link: ConsoleLink;
  end(reason: string): Promise<void>;
}

interface TicketPayload {
  vmId: string;
  principal: Principal;
}

/** Who may type: operators (and admins); every other role watches. */
export function consoleMode(p: Principal): ConsoleMode {
  return p.role === 'admin' || p.role === 'operator' ? 'read-write' : 'read-only';
}

/**
 * The serial console of a VM, through its host's worker: who may attach (another project's VM
 * reads as missing, a VM that does not run has no console), the audit events of each session
 * on the VM's console stream, the log, and the one-use tickets browsers open the WebSocket with.
 */
@Injectable()
export class ConsoleService {
  constructor(
    @Inject(AGGREGATES) private readonly aggregates: AggregateLoader,
    @Inject(CONSOLES) private readonly consoles: ConsoleHosts,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  /** 404 for a VM the caller may not see; 409 for one that does not run on a host right now. */
  async target(vmId: string, principal: Principal): Promise<ConsoleTarget> {
    if (!UUID.test(vmId)) throw new NotFoundException('VM not found: the id is not a VM id');
    const { state } = await this.aggregates.load(vmDecider, vmStream(vmId));
    if (!state.exists || !mayUse(principal, vmProject(state))) throw new NotFoundException(`VM ${vmId} not found`);
    if (state.state !== 'running' && state.state !== 'paused') {
      throw new ConflictException(`VM ${vmId} is ${state.state}: the console needs it running (start it first)`);
    }
    if (!state.hostId || !state.spec) throw new ConflictException(`VM ${vmId} is not on a host yet`);
    return { vmId, hostId: state.hostId, spec: { ...state.spec, id: vmId } };
  }

  async logLines(vmId: string, principal: Principal, tail: number): Promise<ConsoleLogView> {
    if (!UUID.test(vmId)) throw new NotFoundException('VM not found: the id is not a VM id');
    const { state } = await this.aggregates.load(vmDecider, vmStream(vmId));
    if (!state.exists || !mayUse(principal, vmProject(state))) throw new NotFoundException(`VM ${vmId} not found`);
    // Known here, so not asked of a host (one removed since would leave the request waiting for no worker).
    if (state.state === 'deleted')
      throw new ConflictException(`VM ${vmId} is deleted: its console log went with its domain`);
    if (!state.hostId || !state.spec) throw new ConflictException(`VM ${vmId} is not on a host: it has no console log`);
    const host = await this.aggregates.load(hostDecider, hostStream(state.hostId));
    if (!host.state.exists || host.state.removed)
      throw new ConflictException(`VM ${vmId}: its host ${state.hostId} was removed, and its console log with it`);
    let bytes: Buffer;
    try {
      bytes = await this.consoles.log(state.hostId, { ...state.spec, id: vmId }, LOG_MAX_BYTES, HOST_TIMEOUT_MS);
    } catch (err) {
      throw this.hostError(err, vmId);
    }
    const truncated = bytes.length >= LOG_MAX_BYTES;
    const lines = bytes.toString('utf8').split(/\r?\n/);
    if (lines[lines.length - 1] === '') lines.pop();
    // A log read from the middle starts with a partial line: drop it.
    if (truncated) lines.shift();
    return { vmId, hostId: state.hostId, lines: lines.slice(-tail), truncated: truncated || lines.length > tail };
  }

  async ticket(vmId: string, principal: Principal): Promise<ConsoleTicketView> {
    await this.target(vmId, principal);
    const payload: TicketPayload = { vmId, principal };
    const ticket = await this.consoles.issueTicket(JSON.stringify(payload), TICKET_TTL_MS);
    return {
      ticket,
      expiresAt: new Date(this.clock.now().getTime() + TICKET_TTL_MS).toISOString(),
      url: `/v1/vms/${vmId}/console?ticket=${ticket}`,
      mode: consoleMode(principal),
    };
  }

  /** The principal a ticket stands for, if it is one for this VM; used up either way. */
  async redeem(ticket: string, vmId: string): Promise<Principal | undefined> {
    const raw = await this.consoles.redeemTicket(ticket);
    if (!raw) return undefined;
    const payload = JSON.parse(raw) as TicketPayload;
    return payload.vmId === vmId ? payload.principal : undefined;
  }

  /**
   * Attaches through the host's worker, then records ConsoleOpened: a host that refuses (no
   * console in its driver: 422; VM not running there: 409; no worker: 503) leaves no event.
   * No byte is relayed before the event is in the log.
   */
  async open(target: ConsoleTarget, principal: Principal): Promise<ConsoleSession> {
    const sessionId = randomUUID();
    const mode = consoleMode(principal);
    let link: ConsoleLink;
    try {
      link = await this.consoles.open(
        {
          hostId: target.hostId,
          spec: target.spec,
          sessionId,
          readOnly: mode === 'read-only',
          scrollbackBytes: SCROLLBACK_BYTES,
        },
        HOST_TIMEOUT_MS,
      );
    } catch (err) {
      throw this.hostError(err, target.vmId);
    }
    const base = { vmId: target.vmId, sessionId, principal: principal.id };
    try {
      await this.record({ type: 'OpenConsole', ...base, mode, hostId: target.hostId }, principal, sessionId);
    } catch (err) {
      link.close('the session could not be recorded');
      throw err;
    }
    let ended: Promise<void> | undefined;
    return {
      sessionId,
      mode,
      link,
      end: (reason) => {
        ended ??= this.record({ type: 'CloseConsole', ...base, reason }, principal, sessionId).catch((err: unknown) =>
          this.log.error({ err, vm: target.vmId, session: sessionId }, 'ConsoleClosed not recorded'),
        );
        return ended;
      },
    };
  }

  private async record(cmd: ConsoleCommand, principal: Principal, sessionId: string): Promise<void> {
    await handleCommand(
      this.aggregates,
      consoleDecider,
      consoleStream(cmd.vmId),
      cmd,
      { principal: principal.id, correlationId: sessionId, causationId: `console:${sessionId}` },
      { now: () => this.clock.now() },
    );
  }

  private hostError(err: unknown, vmId: string): HttpException | Error {
    if (err instanceof HostDidNotAnswer) return new ServiceUnavailableException(err.message);
    if (!(err instanceof ConsoleRefused)) return err instanceof Error ? err : new Error(String(err));
    if (err.code === 'unsupported') return new UnprocessableEntityException(`VM ${vmId}: ${err.message}`);
    if (err.code === 'conflict' || err.code === 'not_found') return new ConflictException(`VM ${vmId}: ${err.message}`);
    return new ServiceUnavailableException(`VM ${vmId}: the host could not attach to the console: ${err.message}`);
  }
}
