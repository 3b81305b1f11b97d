import type { Quotas, VmFootprint } from './project.types.js';

export type ProjectCommand =
  | { type: 'CreateProject'; name: string; quotas: Quotas }
  /** Replaces the quotas; a name set to null becomes unlimited, an absent one is kept. */
  | { type: 'ChangeQuotas'; name: string; quotas: Partial<Record<keyof Quotas, number | null>> }
  | {
      /**
       * Reserve room for a new VM before its VmCreateRequested is appended. `settled` is what
       * the read model knows of the project's VMs: the footprint of each live one, null for one
       * that no longer counts (deleted, or failed before placement). Admissions the read model
       * does not show yet count while younger than `inFlightMs` (the VM is being created).
       */
      type: 'AdmitVm';
      project: string;
      vmId: string;
      footprint: VmFootprint;
      settled: Record<string, VmFootprint | null>;
      /** The read model's volumes of the project: the size each takes now, null for one that no longer counts. */
      settledVolumes?: Record<string, number | null>;
      at: string;
      inFlightMs: number;
    }
  | {
      /**
       * Reserve `sizeGiB` (the volume's whole size: a create's, or a grow's new one) against the
       * project's diskGiB, counting VM disks and volumes alike; only the growth is requested.
       */
      type: 'AdmitVolume';
      project: string;
      volumeId: string;
      sizeGiB: number;
      settled: Record<string, VmFootprint | null>;
      settledVolumes: Record<string, number | null>;
      at: string;
      inFlightMs: number;
    }
  /** An admitted volume whose first event was never appended (no host could take it). */
  | { type: 'ReleaseVolumeAdmission'; project: string; volumeId: string; at: string };
