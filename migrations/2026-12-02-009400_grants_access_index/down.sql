DROP INDEX grants_access_idx;
