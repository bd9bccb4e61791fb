-- Fails while accounts without a password exist: they would have no way to sign in.
ALTER TABLE accounts DROP CONSTRAINT accounts_can_sign_in;
ALTER TABLE accounts DROP COLUMN oidc_issuer;
ALTER TABLE accounts ALTER COLUMN password_hash SET NOT NULL;
