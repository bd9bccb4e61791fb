ALTER TABLE access_tokens RESET (fillfactor);
