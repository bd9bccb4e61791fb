-- The time zone a person reads times in on their own pages: an IANA name ("Europe/Paris"), as
-- the OpenID Connect `zoneinfo` claim carries it, or chosen on the settings page. NULL: none
-- known, and pages show UTC and say so. The application checks the name against its time zone
-- database; the constraint only keeps the column to the shape of such names.
ALTER TABLE accounts
    ADD COLUMN zoneinfo text
        CHECK (length(zoneinfo) BETWEEN 1 AND 64 AND zoneinfo ~ '^[A-Za-z0-9_+/-]+$');
