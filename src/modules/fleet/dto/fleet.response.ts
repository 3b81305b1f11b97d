import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { VM_STATES, type VmStateName } from '../../../domain/vm/vm.types.js';
import { AsOfResponse } from '../../../http/openapi/as-of.response.js';
import type { InFlightOperation } from '../../../projections/fleet-fold.js';
import { ResourcesResponse } from '../../../http/openapi/resources.response.js';
import type { FleetHost, FleetOperation, FleetView, FleetVm } from '../fleet.view.js';
import type { Covers, Undocumented } from '../../../http/openapi/covers.js';

// `implements` ties each schema to the view it documents: a field added to the view
// and not here fails the build.

export class InFlightOperationResponse implements InFlightOperation {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'migrate' })
  kind!: string;

  @ApiProperty({ example: 'migrating', description: 'Where the operation was at that instant' })
  step!: string;

  @ApiProperty({ example: 'operator', description: 'Who asked for it' })
  principal!: string;

  @ApiPropertyOptional()
  reason?: string;

  @ApiProperty({ format: 'date-time' })
  since!: string;
}

export class FleetVmResponse implements FleetVm {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'web-1' })
  name!: string;

  @ApiProperty({ enum: VM_STATES, enumName: 'VmState', example: 'running' })
  state!: VmStateName;

  @ApiProperty({ type: 'integer' })
  vcpus!: number;

  @ApiProperty({ type: 'integer' })
  memoryMiB!: number;

  @ApiPropertyOptional({ description: 'While migrating: the host it was moving to' })
  migratingTo?: string;

  @ApiProperty({ type: InFlightOperationResponse, nullable: true })
  operation!: InFlightOperationResponse | null;
}

export class FleetHostResponse implements FleetHost {
  @ApiProperty({ example: 'hv-1' })
  id!: string;

  @ApiProperty({ example: 'hv-1' })
  name!: string;

  @ApiProperty({ example: 'qemu' })
  driver!: string;

  @ApiProperty({ example: 'active', description: 'active, or draining' })
  state!: string;

  @ApiProperty({ type: ResourcesResponse })
  capacity!: ResourcesResponse;

  @ApiProperty({ type: ResourcesResponse })
  allocated!: ResourcesResponse;

  @ApiProperty({ type: [FleetVmResponse] })
  vms!: FleetVmResponse[];
}

export class FleetOperationResponse extends InFlightOperationResponse implements FleetOperation {
  @ApiProperty({ format: 'uuid' })
  vmId!: string;

  @ApiProperty({ type: 'string', nullable: true })
  hostId!: string | null;
}

export class FleetResponse implements FleetView {
  @ApiProperty({ type: AsOfResponse })
  asOf!: AsOfResponse;

  @ApiProperty({ type: [FleetHostResponse], description: 'Every host, with the VMs it ran' })
  hosts!: FleetHostResponse[];

  @ApiProperty({ type: [FleetVmResponse], description: 'VMs on no host at that instant (waiting for placement)' })
  unplaced!: FleetVmResponse[];

  @ApiProperty({ type: [FleetOperationResponse], description: 'Every operation open at that instant' })
  operations!: FleetOperationResponse[];
}

export type FleetVmCovers = Covers<Undocumented<FleetVm, FleetVmResponse>>;
export type InFlightOperationCovers = Covers<Undocumented<InFlightOperation, InFlightOperationResponse>>;
