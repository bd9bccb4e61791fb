ALTER TABLE accounts DROP COLUMN zoneinfo;
