import { DriverError, type DomainState } from '../hypervisor-driver.port.js';
import { child, children, textEl, textOf, type XmlNode } from './xml.js';
import { moOf, type MoRef, type SoapClient } from './soap-client.js';
import { propertiesOf, propertiesUnder } from './properties.js';
import type { VsphereHostConfig } from './vsphere-uri.js';

/** Where this binding's VMs are made: the URI's names resolved to managed objects once. */
export interface Placement {
  datacenter: MoRef;
  vmFolder: MoRef;
  host: MoRef;
  pool: MoRef;
  datastore: MoRef;
  datastoreName: string;
  /** vCenter's instanceUuid: a migration endpoint from another vCenter is refused. */
  instanceUuid: string;
}

/** One VM as the driver sees it. */
export interface VmView {
  ref: MoRef;
  name: string;
  power: string;
  /** HostSystem moref value the VM runs (or is registered) on. */
  host: string | undefined;
  toolsRunning: boolean;
  connection: string;
}

/** VMs of ours are named `vl-<vmId>` in the datacenter's VM folder, so they are found again by name. */
export const VM_PREFIX = 'vl-';
export const vmName = (vmId: string): string => `${VM_PREFIX}${vmId}`;

export const VM_PATHS = [
  'name',
  'runtime.powerState',
  'runtime.host',
  'runtime.connectionState',
  'guest.toolsRunningStatus',
];

export function toView(ref: MoRef, props: Map<string, XmlNode>): VmView {
  return {
    ref,
    name: textOf(props.get('name')) ?? ref.value,
    power: textOf(props.get('runtime.powerState')) ?? 'unknown',
    host: moOf(props.get('runtime.host'))?.value,
    toolsRunning: textOf(props.get('guest.toolsRunningStatus')) === 'guestToolsRunning',
    connection: textOf(props.get('runtime.connectionState')) ?? 'connected',
  };
}

export function domainState(v: VmView): DomainState {
  if (v.connection !== 'connected') return 'unknown';
  switch (v.power) {
    case 'poweredOn':
      return 'running';
    case 'poweredOff':
      return 'stopped';
    case 'suspended':
      return 'paused';
    default:
      return 'unknown';
  }
}

export class VsphereInventory {
  private placing: Promise<Placement> | undefined;

  constructor(
    private readonly soap: SoapClient,
    private readonly config: VsphereHostConfig,
  ) {}

  placement(signal?: AbortSignal): Promise<Placement> {
    this.placing ??= this.resolve(signal).catch((err: unknown) => {
      this.placing = undefined;
      throw err;
    });
    return this.placing;
  }

  async findByPath(path: string, signal?: AbortSignal): Promise<MoRef | undefined> {
    const si = await this.soap.service('searchIndex', signal);
    const res = await this.soap.call('FindByInventoryPath', si, textEl('inventoryPath', path), signal);
    return moOf(child(res, 'returnval'));
  }

  /** Our VM `vmId` wherever it is in this datacenter (this host or another), or undefined. */
  async findVm(vmId: string, signal?: AbortSignal): Promise<VmView | undefined> {
    const ref = await this.findByPath(`${this.config.datacenter}/vm/${vmName(vmId)}`, signal);
    if (!ref) return undefined;
    const props = await propertiesOf(this.soap, ref, VM_PATHS, signal);
    return props ? toView(ref, props) : undefined; // destroyed between the two calls
  }

  /** Every VM of the datacenter (ours and anyone's), with the properties status needs. */
  async allVms(signal?: AbortSignal): Promise<VmView[]> {
    const p = await this.placement(signal);
    return (await propertiesUnder(this.soap, p.vmFolder, 'VirtualMachine', VM_PATHS, signal)).map((o) =>
      toView(o.ref, o.props),
    );
  }

  private async resolve(signal?: AbortSignal): Promise<Placement> {
    const c = this.config;
    const content = await this.soap.serviceContent(signal);
    const instanceUuid = textOf(child(content, 'about'), 'instanceUuid') ?? c.sdkUrl;
    const datacenter = await this.findByPath(c.datacenter, signal);
    if (datacenter?.type !== 'Datacenter')
      throw new DriverError('failed', `no datacenter ${c.datacenter} at ${c.sdkUrl}`);
    const vmFolder = moOf((await propertiesOf(this.soap, datacenter, ['vmFolder'], signal))?.get('vmFolder'));
    if (!vmFolder) throw new DriverError('failed', `datacenter ${c.datacenter} has no vmFolder`);
    const host = c.cluster
      ? await this.findByPath(`${c.datacenter}/host/${c.cluster}/${c.host}`, signal)
      : await this.findByPath(`${c.datacenter}/host/${c.host}/${c.host}`, signal);
    if (host?.type !== 'HostSystem') {
      const where = c.cluster ? `cluster ${c.cluster}` : `datacenter ${c.datacenter}`;
      throw new DriverError('failed', `no ESXi host ${c.host} in ${where} at ${c.sdkUrl}`);
    }
    const hostProps = await propertiesOf(this.soap, host, ['parent', 'datastore'], signal);
    const computeResource = moOf(hostProps?.get('parent'));
    const pool = computeResource
      ? moOf((await propertiesOf(this.soap, computeResource, ['resourcePool'], signal))?.get('resourcePool'))
      : undefined;
    if (!pool) throw new DriverError('failed', `host ${c.host} has no resource pool`);
    let datastore: MoRef | undefined;
    if (c.datastore) {
      datastore = await this.findByPath(`${c.datacenter}/datastore/${c.datastore}`, signal);
    } else {
      datastore = children(hostProps?.get('datastore'), 'ManagedObjectReference').map(moOf)[0];
    }
    if (datastore?.type !== 'Datastore') {
      throw new DriverError('failed', `no datastore ${c.datastore ?? '(any)'} for host ${c.host}`);
    }
    const datastoreName =
      c.datastore ?? textOf((await propertiesOf(this.soap, datastore, ['name'], signal))?.get('name')) ?? '';
    return { datacenter, vmFolder, host, pool, datastore, datastoreName, instanceUuid };
  }
}
