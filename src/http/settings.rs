//! What the environment configures, read once per isolate: a Worker's variables and secrets are
//! fixed for an isolate's life (changing one deploys a new version, in new isolates), and
//! reading and parsing them took a dozen calls into JavaScript per request.

use std::{cell::OnceCell, rc::Rc};

use worker::Env;

use super::cors::{self, CorsPolicy};
use crate::{config::Config, db::deadlines::Deadlines};

/// The parsed environment. A setting that cannot be used keeps the reason, for the log.
pub struct Settings {
    pub auth: Result<Config, &'static str>,
    pub cors: Result<Option<CorsPolicy>, String>,
    pub db_deadlines: Result<Deadlines, &'static str>,
}

thread_local! {
    static SETTINGS: OnceCell<Rc<Settings>> = const { OnceCell::new() };
}

/// This isolate's settings, read from `env` on first use.
pub fn get(env: &Env) -> Rc<Settings> {
    SETTINGS.with(|cell| {
        cell.get_or_init(|| {
            let get = |name: &str| env.secret(name).ok().map(|value| value.to_string());
            Rc::new(Settings {
                auth: Config::from_lookup(get),
                cors: CorsPolicy::parse(get(cors::ORIGINS_VAR).as_deref()),
                db_deadlines: Deadlines::from_lookup(get),
            })
        })
        .clone()
    })
}
