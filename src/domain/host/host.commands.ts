import type { EvacuationChild, EvacuationRefusal } from './host.events.js';
import type { HostCapabilities, HostLifecycleState, QueueJobRef, Resources } from './host.events.js';

export type HostCommand =
  | {
      type: 'RegisterHost';
      hostId: string;
      name: string;
      driver: string;
      uri: string;
      capacity: Resources;
      capabilities?: HostCapabilities;
      labels?: Record<string, string>;
    }
  | { type: 'ReserveCapacity'; vmId: string; operationId: string; vcpus: number; memoryMiB: number; diskGiB?: number }
  /** A volume's disk on this host (again with a new size when it grows). */
  | { type: 'ReserveVolumeDisk'; volumeId: string; operationId: string; sizeGiB: number }
  | { type: 'ReleaseVolumeDisk'; volumeId: string; operationId: string }
  /** A resize of a VM already on the host: its allocation becomes the new size (a draining host takes it too). */
  | { type: 'ResizeReservation'; vmId: string; operationId: string; vcpus: number; memoryMiB: number }
  | { type: 'ReleaseCapacity'; vmId: string; operationId: string }
  | { type: 'SetHostState'; state: HostLifecycleState }
  | { type: 'UpdateHost'; capacity?: Resources; labels?: Record<string, string> }
  | { type: 'RemoveHost' }
  | { type: 'StartEvacuation'; operationId: string; children: EvacuationChild[]; refused: EvacuationRefusal[] }
  /** From the control plane's heartbeat watch (see heartbeat-verdict.ts). */
  | { type: 'MarkUnreachable'; lastHeartbeatAt: string; lastHeartbeatBy: string; silentMs: number; observedBy: string }
  | { type: 'MarkReachable'; heartbeatAt: string; heartbeatBy: string; observedBy: string }
  /** An operator's act on a failed job of the host's queue, recorded before it is carried out. */
  | { type: 'RetryQueueJob'; job: QueueJobRef; by: string }
  | { type: 'DiscardQueueJob'; job: QueueJobRef; by: string; reason: string }
  /** `POST /v1/hosts/{id}/fence` (admin, unreachable host only), or the host's worker confirming it stopped its VMs. */
  | {
      type: 'FenceHost';
      fenceId: string;
      by: string;
      reason?: string;
      confirmation?: { confirmedBy: string; stoppedVms: string[] };
    };
