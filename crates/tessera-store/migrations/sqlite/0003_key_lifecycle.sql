-- Key lifecycle: each key has a generation (unique, so two instances cannot both rotate), the
-- time it starts signing, and, once superseded, the time it leaves the JWKS.
ALTER TABLE signing_keys ADD COLUMN generation INTEGER;
ALTER TABLE signing_keys ADD COLUMN activates_at INTEGER;
ALTER TABLE signing_keys ADD COLUMN retire_after INTEGER;
UPDATE signing_keys SET activates_at = created_at;
UPDATE signing_keys SET generation = (
    SELECT COUNT(*) FROM signing_keys AS k
    WHERE k.created_at < signing_keys.created_at
       OR (k.created_at = signing_keys.created_at AND k.kid <= signing_keys.kid)
);
CREATE UNIQUE INDEX signing_keys_generation ON signing_keys (generation);
