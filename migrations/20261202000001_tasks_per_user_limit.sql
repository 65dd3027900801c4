-- A cap on tasks per user (docs/api.md, "Limits"): one user's footprint, and with it the cost
-- of anything that reads all of a user's tasks (a `q` search reads every title and description),
-- is bounded. The count is kept on the user's row by triggers, so it is exact whichever version
-- of the worker (or anyone else) inserts or deletes tasks, and the check is a row-locked update:
-- concurrent creates of one user queue on that row and each sees the count the previous one
-- left, so the cap cannot be overshot.

-- migrate:up

-- Bounds for this file's transaction (docs/operations.md, "Migrations"): waiting longer than
-- lock_timeout for a lock fails the migration rather than queueing the worker's statements
-- behind it; statement_timeout bounds any one statement.
set local lock_timeout = '1s';
set local statement_timeout = '30s';

-- A constant default: no table rewrite (PostgreSQL 11+), and the version still serving never
-- names the column.
alter table users add column task_count bigint not null default 0
  constraint users_task_count_check check (task_count >= 0);

-- 10000 is `MAX_TASKS_PER_USER` in src/tasks/model.rs (a unit test reads this file to hold the
-- two together). The error names the constraint, which is how the worker tells this refusal
-- (409 task_limit_reached) from a fault.
create function count_task_insert() returns trigger
language plpgsql as $$
begin
  update users set task_count = task_count + 1
  where id = new.user_id and task_count < 10000;
  if not found then
    raise exception 'the user already has 10000 tasks'
      using errcode = 'check_violation', constraint = 'tasks_per_user_limit';
  end if;
  return new;
end;
$$;

create function count_task_delete() returns trigger
language plpgsql as $$
begin
  update users set task_count = task_count - 1 where id = old.user_id;
  return old;
end;
$$;

-- Before the insert, so a refused task is never written; after the delete, so only a deleted
-- row is uncounted. `create trigger` locks `tasks` against writes until this file commits, so
-- no task is inserted or deleted between the count below and the triggers taking over.
create trigger tasks_count_insert
  before insert on tasks
  for each row
  execute function count_task_insert();

create trigger tasks_count_delete
  after delete on tasks
  for each row
  execute function count_task_delete();

-- The existing tasks. Users over the cap keep their tasks (and can delete them); they cannot
-- create more until they are under it.
update users set task_count = counted.tasks
from (select user_id, count(*) as tasks from tasks group by user_id) as counted
where users.id = counted.user_id;

-- migrate:down

-- The down section undoes this file in development (`dbmate rollback`); a deployed database
-- is never rolled back, it is rolled forward by a new migration (docs/operations.md).
drop trigger tasks_count_delete on tasks;
drop trigger tasks_count_insert on tasks;
drop function count_task_delete();
drop function count_task_insert();
-- squawk-ignore ban-drop-column
alter table users drop column task_count;
