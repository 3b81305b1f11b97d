import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsDefined, IsInt, IsObject, IsOptional, IsString, Matches, Max, Min, ValidateNested } from 'class-validator';
import { PROJECT_PATTERN, PROJECT_RULE } from '../../../domain/patterns.js';
import { ReasonDto } from '../../../http/reason.dto.js';

const MAX = 1_000_000_000;

/** Each limit optional: absent = unlimited. In a PATCH, null removes a limit and an absent one is kept. */
export class QuotasDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: MAX, description: 'live VMs', nullable: true })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX)
  vms?: number | null;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    maximum: MAX,
    description: 'vCPUs over the live VMs',
    nullable: true,
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX)
  vcpus?: number | null;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    maximum: MAX,
    description: 'MiB of memory over the live VMs',
    nullable: true,
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX)
  memoryMiB?: number | null;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    maximum: MAX,
    description: 'GiB of disk over the live VMs',
    nullable: true,
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX)
  diskGiB?: number | null;
}

export class CreateProjectDto extends ReasonDto {
  @ApiProperty({ example: 'team-a' })
  @IsString()
  @Matches(PROJECT_PATTERN, { message: `name ${PROJECT_RULE}` })
  name!: string;

  @ApiPropertyOptional({ type: QuotasDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => QuotasDto)
  quotas?: QuotasDto;
}

export class ChangeQuotasDto extends ReasonDto {
  @ApiProperty({ type: QuotasDto })
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => QuotasDto)
  quotas!: QuotasDto;
}
