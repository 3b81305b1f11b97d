/** Wire shapes of the QMP messages and of the command results this driver reads (QEMU 7.2 schema). */

export interface QmpGreeting {
  QMP: {
    version: { qemu: { major: number; minor: number; micro: number }; package: string };
    capabilities: string[];
  };
}

export interface QmpErrorBody {
  class: string;
  desc: string;
}

export interface QmpTimestamp {
  seconds: number;
  microseconds: number;
}

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp: QmpTimestamp;
}

/** `query-status` */
export interface QmpStatusInfo {
  running: boolean;
  singlestep?: boolean;
  status: string;
}

/** `query-migrate` (fields used here). */
export interface QmpMigrationInfo {
  status?:
    | 'none'
    | 'setup'
    | 'cancelling'
    | 'cancelled'
    | 'active'
    | 'postcopy-active'
    | 'postcopy-paused'
    | 'postcopy-recover'
    | 'completed'
    | 'failed'
    | 'colo'
    | 'pre-switchover'
    | 'device'
    | 'wait-unplug';
  ram?: { transferred: number; remaining: number; total: number; 'dirty-pages-rate'?: number };
  'total-time'?: number;
  downtime?: number;
  'error-desc'?: string;
  'socket-address'?: Array<{ type: string; host?: string; port?: string }>;
}

/** `query-jobs` entry. */
export interface QmpJobInfo {
  id: string;
  type: string;
  status:
    | 'undefined'
    | 'created'
    | 'running'
    | 'paused'
    | 'ready'
    | 'standby'
    | 'waiting'
    | 'pending'
    | 'aborting'
    | 'concluded'
    | 'null';
  'current-progress': number;
  'total-progress': number;
  error?: string;
}

/** `query-block-jobs` entry. */
export interface QmpBlockJobInfo {
  type: string;
  device: string;
  len: number;
  offset: number;
  busy: boolean;
  paused: boolean;
  ready: boolean;
  status: string;
  error?: string;
}
