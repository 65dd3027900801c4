-- Users and their tasks. Applied with dbmate (`make migrate`, or the Neon steps in docs/operations.md);
-- the worker itself never migrates. Constraints repeat the API's validation as a second line
-- of defence, so a bug in the worker cannot store what the contract forbids.

-- migrate:up

-- Bounds for this file's transaction (docs/operations.md, "Migrations"): waiting longer than
-- lock_timeout for a lock fails the migration rather than queueing the worker's statements
-- behind it; statement_timeout bounds any one statement.
set local lock_timeout = '1s';
set local statement_timeout = '30s';

-- Keeps updated_at truthful whatever statement changes a row, and created_at fixed.
create function set_updated_at() returns trigger
language plpgsql as $$
begin
  new.updated_at := now();
  new.created_at := old.created_at;
  return new;
end;
$$;

create table users (
  -- The identity provider's user id (JWT `sub`): opaque, not necessarily a UUID.
  id text primary key check (id ~ '^[A-Za-z0-9._:@-]{1,128}$'),
  -- Unique without regard to case; null when the token carries none.
  email text check (email is null or char_length(email) between 1 and 320),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create unique index users_email_key on users (lower(email));

create trigger users_set_updated_at
  before update on users
  for each row when (old.* is distinct from new.*)
  execute function set_updated_at();

create table tasks (
  id uuid primary key default gen_random_uuid(),
  user_id text not null references users (id) on delete cascade,
  title text not null
    check (char_length(title) between 1 and 255 and title = btrim(title, E' \t\n\r')),
  description text check (description is null or char_length(description) <= 10000),
  completed boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Serves the list (newest first) and, through its leading column, every owner-scoped lookup.
create index tasks_user_created_idx on tasks (user_id, created_at desc, id desc);

create trigger tasks_set_updated_at
  before update on tasks
  for each row
  execute function set_updated_at();

-- migrate:down

-- The down section undoes this file in development (`dbmate rollback`); a deployed database
-- is never rolled back, it is rolled forward by a new migration (docs/operations.md).
-- squawk-ignore ban-drop-table
drop table tasks;
-- squawk-ignore ban-drop-table
drop table users;
drop function set_updated_at();
