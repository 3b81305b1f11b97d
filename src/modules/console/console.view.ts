/** `GET /v1/vms/{id}/console/log`: the end of the VM's serial log, as lines. */
export interface ConsoleLogView {
  vmId: string;
  hostId: string;
  lines: string[];
  /** True when the log holds more than the bytes read: older lines were left out. */
  truncated: boolean;
}

/** `POST /v1/vms/{id}/console/ticket`: a one-use ticket for the WebSocket (browsers cannot send headers on one). */
export interface ConsoleTicketView {
  ticket: string;
  expiresAt: string;
  /** The WebSocket path to open with the ticket. */
  url: string;
  mode: 'read-write' | 'read-only';
}
