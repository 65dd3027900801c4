//! PostgreSQL through the Hyperdrive binding: the connection ([`connection`], over
//! [`socket`]; with the timers of [`health`], the only parts that touch the Workers runtime),
//! what driver errors mean ([`faults`]), the statements ([`statements`]), the one row reader ([`rows`]) and the health
//! check's probe that one isolate's `/health` calls share ([`health`]).

pub mod connection;
pub mod deadlines;
pub mod faults;
pub mod health;
pub mod rows;
pub mod socket;
pub mod statements;

pub use connection::{with_connection, Scope};
pub use statements::{delete_task, get_task, insert_task, list_tasks, ping, update_task};

#[cfg(test)]
mod test_server;
