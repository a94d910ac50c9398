-- Key lifecycle: each key has a generation (unique, so two instances cannot both rotate), the
-- time it starts signing, and, once superseded, the time it leaves the JWKS.
ALTER TABLE signing_keys
    ADD COLUMN generation BIGINT,
    ADD COLUMN activates_at BIGINT,
    ADD COLUMN retire_after BIGINT;
UPDATE signing_keys SET activates_at = created_at;
UPDATE signing_keys AS k SET generation = numbered.n
FROM (SELECT kid, ROW_NUMBER() OVER (ORDER BY created_at, kid) AS n FROM signing_keys) AS numbered
WHERE k.kid = numbered.kid;
ALTER TABLE signing_keys
    ALTER COLUMN generation SET NOT NULL,
    ALTER COLUMN activates_at SET NOT NULL;
CREATE UNIQUE INDEX signing_keys_generation ON signing_keys (generation);
