import { ApiProperty } from '@nestjs/swagger';
import type { PlacementGroupMemberView, PlacementGroupView } from '../placement-group.view.js';

export class PlacementGroupMemberResponse implements PlacementGroupMemberView {
  @ApiProperty({ format: 'uuid' })
  vmId!: string;

  @ApiProperty({ example: 'web-1' })
  name!: string;

  @ApiProperty({ type: [String], description: 'Where it is now (two hosts while it migrates)' })
  hostIds!: string[];
}

export class PlacementGroupResponse implements PlacementGroupView {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'web' })
  name!: string;

  @ApiProperty({ enum: ['affinity', 'anti-affinity'] })
  policy!: 'affinity' | 'anti-affinity';

  @ApiProperty({ description: 'Hard (never broken) or soft (preferred)' })
  strict!: boolean;

  @ApiProperty({ example: 'default' })
  project!: string;

  @ApiProperty({ type: [PlacementGroupMemberResponse], description: 'Live members (deleted and failed VMs have left)' })
  members!: PlacementGroupMemberResponse[];

  @ApiProperty({ type: 'string', format: 'date-time', nullable: true })
  createdAt!: string | null;

  @ApiProperty({ description: 'Deleted (DELETE answers the group as it was)' })
  deleted!: boolean;
}

export class PlacementGroupPage {
  @ApiProperty({ type: [PlacementGroupResponse] })
  items!: PlacementGroupResponse[];

  @ApiProperty({ type: 'string', nullable: true, description: 'Always null: every group in one page' })
  next!: string | null;
}
