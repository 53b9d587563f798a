-- An event id is unique within its stream (ADR 0015): the store refuses a reused id within a partition,
-- but two partitions may live on two Redis Cluster shards and cannot check each other atomically. A
-- global unique index here turned such a reuse into poison that every archive delivery failed on.

ALTER TABLE event_archive DROP CONSTRAINT event_archive_event_id_key;
CREATE UNIQUE INDEX event_archive_stream_event_id ON event_archive (stream, event_id);
