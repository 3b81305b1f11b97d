import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { SealKeyView } from '../../../eventstore/seals/seal-audit.js';
import { ANY_OBJECT, JSON_VALUE } from '../../../http/openapi/schemas.js';
import type { Covers, Undocumented } from '../../../http/openapi/covers.js';

export class ChainBreakResponse {
  @ApiProperty()
  streamId!: string;

  @ApiProperty({ type: 'integer' })
  revision!: number;

  @ApiProperty({ description: 'Hash the chain expects (hex)' })
  expected!: string;

  @ApiProperty({ description: 'Hash stored (hex)' })
  found!: string;
}

export class VerifyResponse {
  @ApiProperty({ description: 'True when every chain (and, for the whole log, every seal) checks' })
  verified!: boolean;

  @ApiProperty({ type: 'integer', description: 'Events verified before the first break' })
  count!: number;

  @ApiProperty({ type: 'integer' })
  streams!: number;

  @ApiProperty({ type: ChainBreakResponse, nullable: true })
  firstBreak!: ChainBreakResponse | null;

  @ApiPropertyOptional({
    ...ANY_OBJECT,
    nullable: true,
    description: 'Whole log: the first seal problem (kind, position, detail), null when none',
  })
  problem?: Record<string, unknown> | null;

  @ApiPropertyOptional({ ...ANY_OBJECT, description: 'Whole log: the seals checked (count, last sealed position…)' })
  seals?: Record<string, unknown>;

  @ApiPropertyOptional({ type: 'integer', description: 'Whole log: events after the last seal' })
  unsealed?: number;
}

export class SealResponse {
  @ApiProperty({ type: 'integer', description: 'Revision on $seals' })
  streamRevision!: number;

  @ApiProperty({ description: 'Position of the seal event in this store’s log' })
  logPosition!: string;

  @ApiProperty({ type: 'integer' })
  sequence!: number;

  @ApiProperty({ type: 'integer', description: 'Events covered: the first count of the log' })
  count!: number;

  @ApiProperty({ description: 'Position of the last covered event' })
  position!: string;

  @ApiProperty({ description: 'Merkle root (hex) over the covered events’ hashes' })
  root!: string;

  @ApiProperty({ format: 'date-time' })
  sealedAt!: string;
}

export class SealListResponse {
  @ApiProperty({
    type: [SealResponse],
    description: 'Oldest first; each seal as signed (with more members: heads, previous, signature…)',
  })
  seals!: SealResponse[];
}

export class SealKeyResponse implements SealKeyView {
  @ApiProperty({ description: 'base64 SPKI DER: what `virtledger audit verify --key` takes' })
  publicKey!: string;

  @ApiProperty()
  pem!: string;

  @ApiProperty()
  keyId!: string;

  @ApiProperty({ enum: ['ed25519'] })
  algorithm!: 'ed25519';
}

export class EventProofResponse {
  @ApiProperty({ type: 'integer', enum: [1] })
  v!: 1;

  @ApiProperty({ ...ANY_OBJECT, description: 'The event as stored, with its chain metadata' })
  event!: Record<string, unknown>;

  @ApiProperty({ type: 'integer', description: 'The event’s leaf: its 0-based index in log order' })
  leafIndex!: number;

  @ApiProperty({ type: 'integer', description: 'The seal’s count' })
  treeSize!: number;

  @ApiProperty({ type: [String], description: 'RFC 6962 audit path, hex, leaf to root' })
  proof!: string[];

  @ApiProperty({ ...ANY_OBJECT, description: 'The seal the proof leads to' })
  seal!: Record<string, unknown>;
}

export class ReadModelDifferenceResponse {
  @ApiProperty({ example: 'vms' })
  readModel!: string;

  @ApiProperty({ example: 'vm:7c9e6679-7425-40de-944b-e07fc1f90ae7' })
  key!: string;

  @ApiProperty({ example: '$.state.name' })
  path!: string;

  @ApiProperty({ enum: ['changed', 'missing-in-live', 'missing-in-replay'] })
  kind!: string;

  @ApiProperty({ ...JSON_VALUE, description: 'Live value (null when missing)' })
  live!: unknown;

  @ApiProperty({ ...JSON_VALUE, description: 'Replayed value (null when missing)' })
  replayed!: unknown;
}

export class ReadModelCheckResponse {
  @ApiProperty()
  name!: string;

  @ApiProperty({ type: 'string', nullable: true })
  position!: string | null;

  @ApiProperty({ type: 'integer' })
  eventsReplayed!: number;

  @ApiProperty({ type: 'integer' })
  recordsCompared!: number;

  @ApiProperty({ type: 'integer' })
  differences!: number;
}

export class ReplayCheckResponse {
  @ApiProperty({ description: 'True when every read model equals its replay of the log' })
  consistent!: boolean;

  @ApiProperty({ type: 'string', nullable: true })
  position!: string | null;

  @ApiProperty({ type: 'integer' })
  eventsReplayed!: number;

  @ApiProperty({ type: 'integer' })
  recordsCompared!: number;

  @ApiProperty({ type: 'integer' })
  differenceCount!: number;

  @ApiProperty()
  truncated!: boolean;

  @ApiProperty({ type: [ReadModelDifferenceResponse] })
  differences!: ReadModelDifferenceResponse[];

  @ApiProperty({ type: [ReadModelCheckResponse] })
  readModels!: ReadModelCheckResponse[];

  @ApiProperty({ type: 'integer' })
  durationMs!: number;
}

export type SealKeyCovers = Covers<Undocumented<SealKeyView, SealKeyResponse>>;
