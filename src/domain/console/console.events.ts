import type { DomainEvent } from '../decider.js';

/**
 * Audit-only events of a VM's serial console, on their own stream (`console-<vmId>`): a
 * session never touches the VM's stream, so it bumps no revision a client's If-Match holds
 * and no saga or projection of the VM reacts to it.
 */
export type ConsoleMode = 'read-write' | 'read-only';

export type ConsoleOpened = DomainEvent<
  'ConsoleOpened',
  { vmId: string; sessionId: string; principal: string; mode: ConsoleMode; hostId: string }
>;
export type ConsoleClosed = DomainEvent<
  'ConsoleClosed',
  { vmId: string; sessionId: string; principal: string; reason: string }
>;

export type ConsoleEvent = ConsoleOpened | ConsoleClosed;
