-- Indexes for list querying: every sort of GET /api/{user_id}/tasks reads the user's rows in
-- index order (backwards for the other direction) and pages by a row comparison on the same
-- columns. The created_at sort uses tasks_user_created_idx from the first migration.

-- migrate:up

create index tasks_user_updated_idx on tasks (user_id, updated_at desc, id desc);
create index tasks_user_title_idx on tasks (user_id, title, id);

-- migrate:down

drop index tasks_user_title_idx;
drop index tasks_user_updated_idx;
