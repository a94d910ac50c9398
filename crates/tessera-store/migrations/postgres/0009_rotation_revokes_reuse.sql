-- Refresh-token rotation in one round trip, as in version 8, with two changes:
-- - a reuse now revokes the session here, in the transaction that detected it (before, the
--   adapter revoked it afterwards in a transaction of its own), with the same effects as the
--   store's `revoke_in`: `revoked_at`, the reason `refresh_token_reuse`, and one revocation
--   feed entry appended after taking the feed lock (the last lock taken, as everywhere);
-- - the decision is a line-for-line transcription of `tessera_core::refresh_rule` (`decide`,
--   then `grace_steps` for a refresh within the grace window), which the SQLite adapter calls
--   in Rust; the store's contract table (tests/it/rotation_contract.rs) runs the same cases
--   against both. Change one, change the other.
--
-- Outcomes: 'unknown' (no such token), 'inactive' (session revoked or expired, or a grace
-- replay with no current token ahead of it), 'rotated', 'grace' (a replay inside the grace
-- window: `steps` and `current_hash` say how far the chain has moved), 'reused' (a rotated
-- token replayed after the window; the session is now revoked). The session columns are set
-- for 'rotated', 'grace' and 'reused' (as they were before the revocation).
CREATE OR REPLACE FUNCTION tessera_rotate_refresh(
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
    -- decide: no session (or no token) is Unknown.
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
    -- decide: revoked, or now at or past either end, is Inactive.
    IF s.revoked_at IS NOT NULL OR now_s >= s.absolute_expires_at OR now_s >= s.idle_expires_at THEN
        outcome := 'inactive';
        RETURN NEXT;
        RETURN;
    END IF;
    IF tok_rotated_at IS NULL THEN
        -- decide: never rotated is Rotate.
        s.last_used_at := now_s;
        s.idle_expires_at := LEAST(idle_until, s.absolute_expires_at);
        UPDATE refresh_tokens AS r SET rotated_at = now_s WHERE r.token_hash = presented;
        INSERT INTO refresh_tokens (token_hash, session_id, generation, created_at)
             VALUES (successor, s.id, tok_generation + 1, now_s);
        UPDATE sessions AS x SET last_used_at = s.last_used_at, idle_expires_at = s.idle_expires_at
         WHERE x.id = s.id;
        outcome := 'rotated';
    ELSIF now_s::numeric - tok_rotated_at::numeric <= grace_secs THEN
        -- decide: rotated at most grace_secs ago (exact difference) is WithinGrace;
        -- grace_steps: Inactive unless a current token is 1 to 2^32 - 1 steps ahead.
        SELECT r.token_hash, r.generation INTO cur_hash, cur_generation
          FROM refresh_tokens AS r WHERE r.session_id = s.id AND r.rotated_at IS NULL;
        IF NOT FOUND
           OR cur_generation::numeric - tok_generation::numeric NOT BETWEEN 1 AND 4294967295 THEN
            outcome := 'inactive';
            RETURN NEXT;
            RETURN;
        END IF;
        outcome := 'grace';
        steps := cur_generation - tok_generation;
        current_hash := cur_hash;
    ELSE
        -- decide: any other rotated token is Reuse; the session is revoked here.
        UPDATE sessions AS x SET revoked_at = now_s, revoked_reason = 'refresh_token_reuse'
         WHERE x.id = s.id AND x.revoked_at IS NULL;
        IF FOUND THEN
            LOCK TABLE revocation_log IN EXCLUSIVE MODE;
            INSERT INTO revocation_log (kind, subject, value, created_at)
                 VALUES ('session', s.id, s.absolute_expires_at, now_s);
        END IF;
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
