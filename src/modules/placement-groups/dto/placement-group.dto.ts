import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsOptional, IsString, Matches } from 'class-validator';
import { NAME_PATTERN, NAME_RULE, PROJECT_PATTERN, PROJECT_RULE } from '../../../domain/patterns.js';
import { ReasonDto } from '../../../http/reason.dto.js';

export class CreatePlacementGroupDto extends ReasonDto {
  @ApiProperty({ example: 'web' })
  @IsString()
  @Matches(NAME_PATTERN, { message: `name ${NAME_RULE}` })
  name!: string;

  @ApiProperty({
    enum: ['affinity', 'anti-affinity'],
    description: 'affinity: members on one host; anti-affinity: each member on a host of its own',
  })
  @IsIn(['affinity', 'anti-affinity'], { message: 'policy must be one of affinity, anti-affinity' })
  policy!: 'affinity' | 'anti-affinity';

  @ApiProperty({
    description:
      'true: never broken (a create that cannot keep it is refused); false: preferred, broken when no host keeps it',
  })
  @IsBoolean()
  strict!: boolean;

  @ApiPropertyOptional({ description: "Project of the group (and of its members); default: the caller's only project" })
  @IsOptional()
  @IsString()
  @Matches(PROJECT_PATTERN, { message: `project ${PROJECT_RULE}` })
  project?: string;
}
