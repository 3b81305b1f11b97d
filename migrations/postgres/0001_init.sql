-- Runs with search_path set to the store's schema.
--
-- position is not a sequence: it is (transaction id << 16) + index within the append.
-- A bigserial is handed out at INSERT time, so a transaction that inserts first and
-- commits last would appear *behind* a reader that has already moved past it. Ordering by
-- the writing transaction's xid8 and only reading rows whose xid is below the oldest
-- running transaction (pg_snapshot_xmin) means every row a reader sees is final and any
-- row committed later sorts after it.
CREATE TABLE events (
  position bigint PRIMARY KEY,
  transaction_id xid8 NOT NULL,
  id text NOT NULL UNIQUE,
  stream_id text NOT NULL,
  stream_revision bigint NOT NULL CHECK (stream_revision >= 0),
  type text NOT NULL,
  data jsonb NOT NULL,
  metadata jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT events_stream_revision_key UNIQUE (stream_id, stream_revision),
  -- Guards the encoding: a row written any other way would break the read horizon.
  CONSTRAINT events_position_matches_transaction CHECK ((position >> 16) = transaction_id::text::bigint)
);

CREATE INDEX events_type_position ON events (type, position);

CREATE TABLE checkpoints (
  name text PRIMARY KEY,
  position bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
