-- People who sign in through the deployment's OpenID Provider have an account without a
-- password. The provider's issuer is kept beside the subject: the pair (oidc_issuer, subject)
-- is who they are. An account is either local (a password), or the provider's, or linked
-- (both: a local account whose subject signed in through the provider).
ALTER TABLE accounts ALTER COLUMN password_hash DROP NOT NULL;
ALTER TABLE accounts ADD COLUMN oidc_issuer text
    CHECK (oidc_issuer IS NULL OR length(oidc_issuer) BETWEEN 1 AND 2000);
ALTER TABLE accounts ADD CONSTRAINT accounts_can_sign_in
    CHECK (password_hash IS NOT NULL OR oidc_issuer IS NOT NULL);
