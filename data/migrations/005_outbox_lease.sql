-- A delivery being sent is leased: no other attempt (another task, another instance, or the
-- same delivery after a restart) starts it again until the lease has run out.
ALTER TABLE outbox ADD COLUMN leased_until TEXT;
