export type NetworkCommand =
  /** `vni` comes from the registry's claim (RegisterNetwork), decided first. */
  | { type: 'CreateNetwork'; networkId: string; name: string; cidr: string; nat: boolean; vni: number }
  /** One NIC of a VM about to be created; `project` is the VM's, so readers see only their own VMs' addresses. */
  | { type: 'AllocateAddress'; vmId: string; nicIndex: number; project: string }
  | { type: 'ReleaseAddresses'; vmId: string }
  | { type: 'DeleteNetwork'; networkId: string };

export type NetworkRegistryCommand =
  | { type: 'RegisterNetwork'; networkId: string; name: string; cidr: string }
  | { type: 'UnregisterNetwork'; networkId: string };
