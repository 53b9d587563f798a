-- A projector's batch takes its checkpoint row with BEGIN and moves it with COMMIT, in the same round
-- trips (handlers/projector.py): the two steps are functions, so that one simple query holds each.

-- Lock the checkpoint row, as the holder of `p_epoch` that last saw it at `p_position`. Raises AWF01 when
-- a newer lease holder has fenced that epoch, AWF02 when the checkpoint is no longer where it was seen
-- (a rebuild or a former holder moved it): the caller then rolls back.
CREATE FUNCTION aiwf_lock_checkpoint(p_projection text, p_partition integer, p_epoch bigint, p_position text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    held record;
BEGIN
    SELECT c.position, c.epoch INTO held FROM projection_checkpoints AS c
    WHERE c.projection = p_projection AND c.partition = p_partition FOR UPDATE;
    IF NOT FOUND OR held.epoch > p_epoch THEN
        RAISE EXCEPTION 'projector % partition %: epoch % is no longer the holder''s',
            p_projection, p_partition, p_epoch USING ERRCODE = 'AWF01';
    END IF;
    IF held.position <> p_position THEN
        RAISE EXCEPTION 'projector % partition %: the checkpoint moved from % to %',
            p_projection, p_partition, p_position, held.position USING ERRCODE = 'AWF02';
    END IF;
END $$;

-- Move the locked checkpoint; the notification reaches read-your-writes waiters at commit.
CREATE FUNCTION aiwf_advance_checkpoint(
    p_projection text, p_partition integer, p_position text, p_events bigint, p_epoch bigint
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE projection_checkpoints AS c
    SET position = p_position, events = c.events + p_events, epoch = p_epoch, updated_at = now()
    WHERE c.projection = p_projection AND c.partition = p_partition;
    PERFORM pg_notify('aiwf_checkpoints', p_projection || ' ' || p_partition || ' ' || p_position);
END $$;
