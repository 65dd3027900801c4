//! A URL query string read as named parameters: each one the caller expects, each at most
//! once. Anything else is a 400 naming the parameter.

use crate::error::ApiError;

/// The parameters of one query string, taken one by one by name.
pub struct QueryParams {
    pairs: Vec<(String, String)>,
}

impl QueryParams {
    /// Parses `query` (`a=b&c=d`, without `?`), refusing names outside `expected` and repeats.
    pub fn parse(query: &str, expected: &[&str]) -> Result<QueryParams, ApiError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            if pairs.iter().any(|(seen, _)| *seen == name) {
                return Err(ApiError::validation(
                    name.as_ref(),
                    format!("{name} is given more than once"),
                ));
            }
            if !expected.contains(&name.as_ref()) {
                return Err(ApiError::validation(
                    name.as_ref(),
                    format!(
                        "unknown query parameter {name}; expected {}",
                        one_of(expected)
                    ),
                ));
            }
            pairs.push((name.into_owned(), value.into_owned()));
        }
        Ok(QueryParams { pairs })
    }

    /// The value of `name`, if given.
    pub fn take(&mut self, name: &str) -> Option<String> {
        let index = self.pairs.iter().position(|(seen, _)| seen == name)?;
        Some(self.pairs.swap_remove(index).1)
    }

    /// A `true`/`false` parameter.
    pub fn take_bool(&mut self, name: &'static str) -> Result<Option<bool>, ApiError> {
        match self.take(name).as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(ApiError::validation(
                name,
                format!("{name} must be true or false"),
            )),
        }
    }
}

/// `a, b or c`.
fn one_of(names: &[&str]) -> String {
    match names.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => "none".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(result: Result<QueryParams, ApiError>) -> (String, String) {
        match result {
            Err(ApiError::Validation { field, message }) => (field, message),
            _ => panic!("expected a 400"),
        }
    }

    #[test]
    fn expected_parameters_are_taken_once_each() {
        let mut params = QueryParams::parse("a=1&b=%20x", &["a", "b", "c"]).unwrap();
        assert_eq!(params.take("b").as_deref(), Some(" x"));
        assert_eq!(params.take("b"), None);
        assert_eq!(params.take("c"), None);
        assert_eq!(params.take("a").as_deref(), Some("1"));
    }

    #[test]
    fn unknown_and_repeated_parameters_are_named() {
        assert_eq!(
            error(QueryParams::parse("a=1&z=2", &["a", "b", "c"])),
            (
                "z".into(),
                "unknown query parameter z; expected a, b or c".into()
            )
        );
        assert_eq!(
            error(QueryParams::parse("a=1&a=2", &["a"])),
            ("a".into(), "a is given more than once".into())
        );
    }

    #[test]
    fn booleans_are_true_or_false() {
        let mut params = QueryParams::parse("x=true&y=false&z=1", &["x", "y", "z"]).unwrap();
        assert_eq!(params.take_bool("x").unwrap(), Some(true));
        assert_eq!(params.take_bool("y").unwrap(), Some(false));
        assert_eq!(params.take_bool("w").unwrap(), None);
        assert!(params.take_bool("z").is_err());
    }
}
