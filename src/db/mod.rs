//! PostgreSQL through the Hyperdrive binding: the connection ([`connection`], over
//! [`socket`]; the only part that touches the Workers runtime), what driver errors mean
//! ([`faults`]), the statements ([`statements`]) and the one row reader ([`rows`]).

pub mod connection;
pub mod faults;
pub mod rows;
pub mod socket;
pub mod statements;

pub use connection::with_connection;
pub use statements::{delete_task, get_task, insert_task, list_tasks, ping, update_task};
