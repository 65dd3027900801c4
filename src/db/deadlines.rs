//! How long the database part of a request may take: Worker variables with defaults chosen for
//! Neon behind Hyperdrive. Pure, so the parsing is unit-tested on the host.
//!
//! Neon scales an idle compute to zero (after 5 minutes by default) and wakes it on the next
//! connection, which "typically takes a few hundred milliseconds" plus the distance, and
//! Hyperdrive then opens its connection to the origin (TCP, TLS, authentication: several round
//! trips of 20–80 ms). A first request after an idle period can therefore wait a second or more
//! for its connection. The defaults leave room for that, at the price of a dead database being
//! answered later: the 503 comes within [`Deadlines::exchange`].

use std::time::Duration;

/// One connection attempt (TCP, startup, authentication), in milliseconds.
pub const CONNECT_TIMEOUT_VAR: &str = "DB_CONNECT_TIMEOUT_MS";
/// The whole database exchange: connecting (with its one retry) and the statements, until the
/// last result is in hand, in milliseconds.
pub const DEADLINE_VAR: &str = "DB_DEADLINE_MS";
/// Longer deadlines than this are refused: a request that waits half a minute for the database
/// has failed its user whatever it then answers.
const MAX_MS: u64 = 30_000;

/// The database deadlines of this deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// One connection attempt.
    pub connect: Duration,
    /// The whole exchange; a dead or stalled database is answered with a JSON 503 by then.
    pub exchange: Duration,
}

impl Deadlines {
    /// 3 s to connect covers a wake-up of a second or two plus Hyperdrive's origin handshake;
    /// 5 s for the exchange covers that connection and the request's one statement.
    pub const DEFAULT: Self = Deadlines {
        connect: Duration::from_millis(3_000),
        exchange: Duration::from_millis(5_000),
    };

    /// The deadlines the variables set (each defaults when unset or empty), or why they cannot
    /// be used: a whole number of milliseconds from 1 to 30,000, the connect timeout no longer
    /// than the exchange (when only the exchange is set, the default connect timeout is cut to
    /// it).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, &'static str> {
        let read = |name: &str, default: Duration, refusal: &'static str| match get(name)
            .filter(|value| !value.trim().is_empty())
        {
            None => Ok(default),
            Some(value) => match value.trim().parse::<u64>() {
                Ok(ms) if (1..=MAX_MS).contains(&ms) => Ok(Duration::from_millis(ms)),
                _ => Err(refusal),
            },
        };
        let exchange = read(
            DEADLINE_VAR,
            Self::DEFAULT.exchange,
            "DB_DEADLINE_MS must be a whole number of milliseconds from 1 to 30000",
        )?;
        // Setting only the exchange deadline shortens the default connect timeout to fit it.
        let connect = read(
            CONNECT_TIMEOUT_VAR,
            Self::DEFAULT.connect.min(exchange),
            "DB_CONNECT_TIMEOUT_MS must be a whole number of milliseconds from 1 to 30000",
        )?;
        if connect > exchange {
            return Err("DB_CONNECT_TIMEOUT_MS must not be longer than DB_DEADLINE_MS");
        }
        Ok(Deadlines { connect, exchange })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<Deadlines, &'static str> {
        Deadlines::from_lookup(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        })
    }

    #[test]
    fn unset_or_empty_variables_take_the_defaults() {
        assert_eq!(parse(&[]), Ok(Deadlines::DEFAULT));
        assert_eq!(
            parse(&[(CONNECT_TIMEOUT_VAR, ""), (DEADLINE_VAR, " ")]),
            Ok(Deadlines::DEFAULT)
        );
        // docs/operations.md and the README state these.
        assert_eq!(Deadlines::DEFAULT.connect, Duration::from_millis(3_000));
        assert_eq!(Deadlines::DEFAULT.exchange, Duration::from_millis(5_000));
    }

    #[test]
    fn set_variables_are_milliseconds() {
        assert_eq!(
            parse(&[(CONNECT_TIMEOUT_VAR, "500"), (DEADLINE_VAR, " 1500 ")]),
            Ok(Deadlines {
                connect: Duration::from_millis(500),
                exchange: Duration::from_millis(1500),
            })
        );
        assert_eq!(
            parse(&[(DEADLINE_VAR, "30000")]).map(|d| d.exchange),
            Ok(Duration::from_millis(30_000))
        );
        assert_eq!(
            parse(&[(DEADLINE_VAR, "1200")]),
            Ok(Deadlines {
                connect: Duration::from_millis(1200),
                exchange: Duration::from_millis(1200),
            })
        );
    }

    #[test]
    fn unusable_values_are_refused_with_the_variable_named() {
        for (name, value) in [
            (CONNECT_TIMEOUT_VAR, "0"),
            (CONNECT_TIMEOUT_VAR, "1.5"),
            (CONNECT_TIMEOUT_VAR, "-1"),
            (CONNECT_TIMEOUT_VAR, "3s"),
            (DEADLINE_VAR, "30001"),
            (DEADLINE_VAR, "18446744073709551616"),
            (DEADLINE_VAR, "abc"),
        ] {
            let refusal = parse(&[(name, value)]).unwrap_err();
            assert!(refusal.starts_with(name), "{name}={value}: {refusal}");
        }
        assert_eq!(
            parse(&[(CONNECT_TIMEOUT_VAR, "2000"), (DEADLINE_VAR, "1000")]),
            Err("DB_CONNECT_TIMEOUT_MS must not be longer than DB_DEADLINE_MS")
        );
    }
}
