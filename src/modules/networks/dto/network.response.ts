import { ApiProperty } from '@nestjs/swagger';
import type { NetworkAllocationView, NetworkView } from '../network.view.js';

// `implements` ties the schema to the view it documents: a field added to the view
// and not here fails the build.

export class NetworkAllocationResponse implements NetworkAllocationView {
  @ApiProperty({ format: 'uuid' })
  vmId!: string;

  @ApiProperty({ type: 'integer', description: "The NIC's index in the VM's nics" })
  nicIndex!: number;

  @ApiProperty({ example: '10.20.0.2' })
  ip!: string;

  @ApiProperty({ example: '52:54:00:12:34:56' })
  mac!: string;
}

export class NetworkResponse implements NetworkView {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'lan' })
  name!: string;

  @ApiProperty({ example: '10.20.0.0/24' })
  cidr!: string;

  @ApiProperty({ type: 'integer', example: 24 })
  prefixLength!: number;

  @ApiProperty({ example: '10.20.0.1', description: "The first usable address: the host bridge's" })
  gateway!: string;

  @ApiProperty()
  nat!: boolean;

  @ApiProperty({ type: 'integer', description: 'VXLAN network identifier (unique among live networks)' })
  vni!: number;

  @ApiProperty({ type: 'integer', description: 'Addresses VMs can get (usable ones but the gateway)' })
  size!: number;

  @ApiProperty({ type: 'integer', description: 'Addresses not allocated' })
  free!: number;

  @ApiProperty({
    type: [NetworkAllocationResponse],
    description: "NICs on the network: the caller's projects' only, unless the caller sees every project",
  })
  allocations!: NetworkAllocationResponse[];

  @ApiProperty({ type: 'integer', description: 'Stream revision' })
  revision!: number;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;
}

export class NetworkPage {
  @ApiProperty({ type: [NetworkResponse] })
  items!: NetworkResponse[];

  @ApiProperty({ type: 'string', nullable: true, description: 'The cursor of the next page; null on the last' })
  next!: string | null;
}
