-- The sign-in throttle's claim (src/throttle.rs, `claim`): the two statements of one attempt
-- in one transaction, for pgbench against a migrated tokendesk database:
--   pgbench -n -M prepared -f scripts/bench-throttle.sql -D logins=100000 -D addresses=5000 \
--     -c 4 -j 2 -T 10 "$DATABASE_URL"
-- `-D logins=1 -D addresses=1` puts every attempt on one login (they serialize on its rows).
\set n random(1, :logins)
\set a random(1, :addresses)
BEGIN;
WITH known AS (
    SELECT 1 FROM sign_in_throttle
    WHERE kind = 'known' AND key = '10.0.' || :a || E'\nuser' || :n
      AND window_started_at > now() - make_interval(days => 30))
INSERT INTO sign_in_throttle AS t (kind, key, attempts, window_started_at)
VALUES ('address', '10.0.' || :a, 0, now()), ('login', 'user' || :n, 0, now()),
       ('pair', '10.0.' || :a || E'\nuser' || :n, 0, now())
ON CONFLICT (kind, key) DO UPDATE SET
  attempts = CASE WHEN t.window_started_at <= now() - make_interval(
      mins => CASE t.kind WHEN 'login' THEN 60 ELSE 15 END) THEN 0 ELSE t.attempts END,
  not_before = CASE WHEN t.window_started_at <= now() - make_interval(
      mins => CASE t.kind WHEN 'login' THEN 60 ELSE 15 END) THEN NULL ELSE t.not_before END,
  window_started_at = CASE WHEN t.window_started_at <= now() - make_interval(
      mins => CASE t.kind WHEN 'login' THEN 60 ELSE 15 END) THEN now() ELSE t.window_started_at END
RETURNING t.kind, t.attempts, t.window_started_at, t.not_before, now() AS now,
          EXISTS (SELECT 1 FROM known) AS known;
UPDATE sign_in_throttle SET
  attempts = attempts + 1,
  not_before = CASE WHEN kind = 'login' AND attempts + 1 >= 10
      THEN now() + make_interval(secs => least(power(2, least(attempts + 1 - 10, 20)), 300))
      ELSE not_before END
WHERE (kind = 'address' AND key = '10.0.' || :a) OR (kind = 'login' AND key = 'user' || :n)
   OR (kind = 'pair' AND key = '10.0.' || :a || E'\nuser' || :n);
COMMIT;
