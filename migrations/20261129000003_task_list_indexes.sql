-- Indexes for list querying: every sort of GET /api/{user_id}/tasks reads the user's rows in
-- index order (backwards for the other direction) and pages by a row comparison on the same
-- columns. The created_at sort uses tasks_user_created_idx from the first migration.

-- migrate:up

-- Bounds for this file's transaction (docs/operations.md, "Migrations"): waiting longer than
-- lock_timeout for a lock fails the migration rather than queueing the worker's statements
-- behind it; statement_timeout bounds any one statement.
set local lock_timeout = '1s';
set local statement_timeout = '30s';

-- Not `concurrently` (which blocks no writes, but cannot run in dbmate's transaction): this
-- file predates the first deploy (wrangler.toml then had only a placeholder Hyperdrive id), so
-- a database that runs it is a development one or a new one, where it runs right after the
-- first file on an empty table. An index on a table that has rows is built concurrently, in a
-- file of its own (docs/operations.md, "Migrations").
-- squawk-ignore require-concurrent-index-creation
create index tasks_user_updated_idx on tasks (user_id, updated_at desc, id desc);
-- squawk-ignore require-concurrent-index-creation
create index tasks_user_title_idx on tasks (user_id, title, id);

-- migrate:down

-- The down section undoes this file in development (`dbmate rollback`); a deployed database
-- is never rolled back, it is rolled forward by a new migration (docs/operations.md).
-- squawk-ignore require-concurrent-index-deletion
drop index tasks_user_title_idx;
-- squawk-ignore require-concurrent-index-deletion
drop index tasks_user_updated_idx;
