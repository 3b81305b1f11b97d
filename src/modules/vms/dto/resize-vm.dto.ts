import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import { ReasonDto } from '../../../http/reason.dto.js';
import { RESTART_POLICIES, type RestartPolicy } from '../../../domain/vm/vm.types.js';

/**
 * PATCH /v1/vms/{id}: a resize, cold (stopped) or live (running, where the host's driver can, within
 * the VM's ceilings); what is absent stays as it is. The same bounds as a create.
 */
export class ResizeVmDto extends ReasonDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 256 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(256)
  vcpus?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 16, maximum: 4194304 })
  @IsOptional()
  @IsInt()
  @Min(16)
  @Max(4194304)
  memoryMiB?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 65536, description: 'Grows the disk; never shrinks it' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(65536)
  diskGiB?: number;

  @ApiPropertyOptional({
    enum: RESTART_POLICIES,
    enumName: 'RestartPolicy',
    description:
      'Changes what healing does when the VM goes down unasked (any state); never cancels a scheduled restart',
  })
  @IsOptional()
  @IsIn(RESTART_POLICIES, { message: `restartPolicy must be one of ${RESTART_POLICIES.join(', ')}` })
  restartPolicy?: RestartPolicy;
}
