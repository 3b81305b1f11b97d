import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { NAME_PATTERN, NAME_RULE } from '../../../domain/patterns.js';
import { ReasonDto } from '../../../http/reason.dto.js';

export class CreateNetworkDto extends ReasonDto {
  @ApiProperty({ example: 'lan' })
  @IsString()
  @Matches(NAME_PATTERN, { message: `name ${NAME_RULE}` })
  name!: string;

  @ApiProperty({
    example: '10.20.0.0/24',
    description: 'IPv4 network address and prefix length /16../29; must not overlap a live network',
  })
  @IsString({ message: 'cidr must be an IPv4 CIDR like 10.20.0.0/24' })
  @MaxLength(18, { message: 'cidr must be an IPv4 CIDR like 10.20.0.0/24' })
  cidr!: string;

  @ApiPropertyOptional({ default: false, description: "Masquerade the network's traffic to the host's uplink" })
  @IsOptional()
  @IsBoolean()
  nat?: boolean;
}
