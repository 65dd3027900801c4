-- The benchmark's data: 100 users × 20 tasks, with ids derived from the user and the task's
-- number so that every reseed gives the same ids and the load generator's fixtures stay valid.
-- bench/run.sh runs this before every phase: creates (and the write mix's deletes) change the
-- lists, and each phase should start from the same 20 tasks per user.
begin;
truncate idempotency_keys, tasks, users;

insert into users (id)
select format('bench-user-%s', lpad(u::text, 3, '0'))
from generate_series(0, 99) as u;

insert into tasks (id, user_id, title, description, completed, created_at, updated_at)
select md5(format('bench-user-%s/%s', lpad(u::text, 3, '0'), t))::uuid,
       format('bench-user-%s', lpad(u::text, 3, '0')),
       format('seeded task %s', t),
       case when t % 3 = 0 then 'a short description of the task' end,
       t % 4 = 0,
       now() - make_interval(mins => t),
       now() - make_interval(mins => t)
from generate_series(0, 99) as u, generate_series(1, 20) as t;
commit;

-- Fresh statistics, so the planner sees the tables as they are under load.
vacuum analyze users, tasks, idempotency_keys;
