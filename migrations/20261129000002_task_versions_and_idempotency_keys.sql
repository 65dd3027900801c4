-- Lost-update protection and idempotent creates (see docs/api.md, "Retries and conditional
-- requests").

-- migrate:up

-- Bounds for this file's transaction (docs/operations.md, "Migrations"): waiting longer than
-- lock_timeout for a lock fails the migration rather than queueing the worker's statements
-- behind it; statement_timeout bounds any one statement.
set local lock_timeout = '1s';
set local statement_timeout = '30s';

-- Every update bumps the version; the API's ETag is this number, so it is strong.
alter table tasks add column version bigint not null default 1;

create function bump_version() returns trigger
language plpgsql as $$
begin
  new.version := old.version + 1;
  return new;
end;
$$;

create trigger tasks_bump_version
  before update on tasks
  for each row
  execute function bump_version();

-- One row per (user, Idempotency-Key) for 24 hours. The row holds the request (which is also
-- its fingerprint: a replay must match it field by field) and what the create returned, so a
-- replay answers with the original task even after the task changed or was deleted.
create table idempotency_keys (
  user_id text not null references users (id) on delete cascade,
  key text not null check (char_length(key) between 1 and 255),
  title text not null,
  description text,
  completed boolean not null,
  task_id uuid not null,
  created_at timestamptz not null default now(),
  primary key (user_id, key)
);

-- Expired keys are swept in small batches by the creates that carry a key.
create index idempotency_keys_created_idx on idempotency_keys (created_at);

-- migrate:down

-- The down section undoes this file in development (`dbmate rollback`); a deployed database
-- is never rolled back, it is rolled forward by a new migration (docs/operations.md).
-- squawk-ignore ban-drop-table
drop table idempotency_keys;
drop trigger tasks_bump_version on tasks;
drop function bump_version();
-- squawk-ignore ban-drop-column
alter table tasks drop column version;
