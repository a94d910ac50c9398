-- Refresh-token rotation in one round trip. The decision and its writes are the same as the
-- transaction the adapter used to send statement by statement (BEGIN, lock the session, read
-- the token, write, COMMIT: five round trips); as one function call in autocommit mode they
-- are one, which is what lets a refresh keep up with PostgreSQL's own write benchmark
-- (BENCHMARKS.md). Under READ COMMITTED each statement below takes a fresh snapshot, so the
-- token read after the session lock sees what the previous holder of that lock committed.
--
-- Outcomes: 'unknown' (no such token), 'inactive' (session revoked or expired, or a grace
-- replay with nothing newer), 'rotated', 'grace' (a replay inside the grace window: `steps`
-- and `current_hash` say how far the chain has moved), 'reused' (a rotated token replayed
-- after the window; the caller revokes the session). The session columns are set for
-- 'rotated', 'grace' and 'reused'.
CREATE FUNCTION tessera_rotate_refresh(
    presented   BYTEA,
    successor   BYTEA,
    now_s       BIGINT,
    grace_secs  BIGINT,
    -- now_s + the idle timeout, saturated by the caller; capped here at the absolute expiry
    idle_until  BIGINT
) RETURNS TABLE (
    outcome             TEXT,
    id                  TEXT,
    user_id             TEXT,
    client_id           TEXT,
    created_at          BIGINT,
    last_used_at        BIGINT,
    absolute_expires_at BIGINT,
    idle_expires_at     BIGINT,
    revoked_at          BIGINT,
    user_agent          TEXT,
    client_ip           TEXT,
    steps               BIGINT,
    current_hash        BYTEA
) LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    s              sessions%ROWTYPE;
    tok_generation BIGINT;
    tok_rotated_at BIGINT;
    cur_hash       BYTEA;
    cur_generation BIGINT;
BEGIN
    -- Find the token's session and lock it. Every rotation and revocation of the session
    -- holds this lock, so the token read next is what the previous one committed.
    SELECT * INTO s FROM sessions AS x
     WHERE x.id = (SELECT r.session_id FROM refresh_tokens AS r WHERE r.token_hash = presented)
       FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'unknown';
        RETURN NEXT;
        RETURN;
    END IF;
    SELECT r.generation, r.rotated_at INTO tok_generation, tok_rotated_at
      FROM refresh_tokens AS r WHERE r.token_hash = presented;
    IF NOT FOUND THEN
        outcome := 'unknown';
        RETURN NEXT;
        RETURN;
    END IF;
    IF s.revoked_at IS NOT NULL OR now_s >= s.absolute_expires_at OR now_s >= s.idle_expires_at THEN
        outcome := 'inactive';
        RETURN NEXT;
        RETURN;
    END IF;
    IF tok_rotated_at IS NULL THEN
        s.last_used_at := now_s;
        s.idle_expires_at := LEAST(idle_until, s.absolute_expires_at);
        UPDATE refresh_tokens AS r SET rotated_at = now_s WHERE r.token_hash = presented;
        INSERT INTO refresh_tokens (token_hash, session_id, generation, created_at)
             VALUES (successor, s.id, tok_generation + 1, now_s);
        UPDATE sessions AS x SET last_used_at = s.last_used_at, idle_expires_at = s.idle_expires_at
         WHERE x.id = s.id;
        outcome := 'rotated';
    ELSIF now_s - tok_rotated_at <= grace_secs THEN
        SELECT r.token_hash, r.generation INTO cur_hash, cur_generation
          FROM refresh_tokens AS r WHERE r.session_id = s.id AND r.rotated_at IS NULL;
        IF NOT FOUND THEN
            outcome := 'inactive';
            RETURN NEXT;
            RETURN;
        END IF;
        outcome := 'grace';
        steps := cur_generation - tok_generation;
        current_hash := cur_hash;
    ELSE
        outcome := 'reused';
    END IF;
    id := s.id;
    user_id := s.user_id;
    client_id := s.client_id;
    created_at := s.created_at;
    last_used_at := s.last_used_at;
    absolute_expires_at := s.absolute_expires_at;
    idle_expires_at := s.idle_expires_at;
    revoked_at := s.revoked_at;
    user_agent := s.user_agent;
    client_ip := s.client_ip;
    RETURN NEXT;
END;
$$;
