-- The user search (src/read_models/users.rs, `SEARCH_USERS_SQL`, the support console's and the
-- admin console's), for pgbench against a tokendesk database seeded with bench users
-- (`tokendesk seed --users 100000 --apps-per-user 1 --tokens-per-app 1`):
--   pgbench -n -M extended -f scripts/bench-user-search.sql -D users=100000 -D mode=1 \
--     -c 4 -j 2 -T 10 "$DATABASE_URL"
-- `-M extended` like the product (unnamed statements, a plan per value). `mode`: 1, five digits
-- found anywhere in a login (`%00123%`: about a hundred accounts, the trigram indexes); 2, a
-- word every bench login holds (`%user%`: every account, the first page of 26 by login); 3, a
-- two-character prefix (`be%`, the prefix indexes).
\set n random(1, :users)
\if :mode = 1
SELECT id, subject, login, display_name, role, disabled
  FROM accounts
 WHERE lower(login) LIKE '%' || right(lpad(:n::text, 7, '0'), 5) || '%'
    OR lower(subject) LIKE '%' || right(lpad(:n::text, 7, '0'), 5) || '%'
    OR lower(display_name) LIKE '%' || right(lpad(:n::text, 7, '0'), 5) || '%'
 ORDER BY lower(login), id
 LIMIT 26 OFFSET 0;
\elif :mode = 2
SELECT id, subject, login, display_name, role, disabled
  FROM accounts
 WHERE lower(login) LIKE '%user%' OR lower(subject) LIKE '%user%'
    OR lower(display_name) LIKE '%user%'
 ORDER BY lower(login), id
 LIMIT 26 OFFSET 0;
\else
SELECT id, subject, login, display_name, role, disabled
  FROM accounts
 WHERE lower(login) LIKE 'be%' OR lower(subject) LIKE 'be%' OR lower(display_name) LIKE 'be%'
 ORDER BY lower(login), id
 LIMIT 26 OFFSET 0;
\endif
