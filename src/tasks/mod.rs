//! The task model and everything a request says about tasks, validated: bodies ([`model`]),
//! list parameters ([`list_query`], read with [`query_params`]) and paging cursors
//! ([`cursor`]), and the conditional-request headers judged against a task's version
//! ([`conditional`]). Pure, unit-tested on the host.

pub mod conditional;
pub mod cursor;
pub mod list_query;
pub mod model;
pub mod query_params;

pub use list_query::{After, ListQuery, Order, SortKey, MAX_LIMIT};
pub use model::{
    etag, Completion, NewTask, Task, TaskChanges, MAX_BODY_BYTES, MAX_DESCRIPTION_CHARS,
    MAX_TASKS_PER_USER, MAX_TITLE_CHARS, SERVER_OWNED,
};
