DROP TRIGGER accounts_end_sessions ON accounts;
DROP FUNCTION sessions_end_on_account_change();
DROP TABLE sessions;
