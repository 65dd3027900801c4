//! The document's tests: it agrees with the Rust types, the route table, the parsers and the
//! README's endpoint table.
use super::*;
use crate::{error::ApiError, tasks::Task};
use chrono::Utc;
use uuid::Uuid;

fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

#[test]
fn the_task_schema_has_exactly_the_serialized_fields() {
    let task = Task {
        id: Uuid::nil(),
        title: "t".into(),
        description: None,
        completed: false,
        user_id: "u".into(),
        created_at: Utc::now(),
        updated_at: Utc::now(),
        version: 1,
    };
    let serialized = serde_json::to_value(&task).unwrap();
    let schema = &document()["components"]["schemas"]["Task"];
    assert_eq!(keys(&schema["properties"]), keys(&serialized));
    let mut required: Vec<String> = serde_json::from_value(schema["required"].clone()).unwrap();
    required.sort();
    assert_eq!(required, keys(&serialized));
}

#[test]
fn input_schemas_accept_exactly_what_the_parsers_accept() {
    let doc = document();
    let mut expected = vec!["completed", "description", "title"];
    expected.extend(SERVER_OWNED);
    expected.sort();
    for name in ["NewTask", "TaskChanges"] {
        assert_eq!(
            keys(&doc["components"]["schemas"][name]["properties"]),
            expected,
            "{name}"
        );
    }
    // The same limits the parser enforces.
    let title = &doc["components"]["schemas"]["NewTask"]["properties"]["title"];
    assert_eq!(title["maxLength"], MAX_TITLE_CHARS);
}

#[test]
fn every_error_code_is_documented() {
    let samples = [
        ApiError::Unauthorized("x"),
        ApiError::Forbidden,
        ApiError::TaskNotFound,
        ApiError::RouteNotFound,
        ApiError::MethodNotAllowed {
            allow: "GET".into(),
        },
        ApiError::InvalidJson("x".into()),
        ApiError::validation("f", "m"),
        ApiError::PreconditionFailed {
            etag: "\"v1\"".into(),
        },
        ApiError::IdempotencyKeyReused,
        ApiError::TaskLimitReached,
        ApiError::RateLimited { retry_after: 60 },
        ApiError::PayloadTooLarge { limit: 1 },
        ApiError::BodyIncomplete("x".into()),
        ApiError::RequestTimeout { limit_secs: 10 },
        ApiError::Misconfigured("x"),
        ApiError::AuthUnavailable {
            retry_after: 1,
            cause: "x".into(),
        },
        ApiError::DatabaseUnavailable("x".into()),
        ApiError::Internal("x".into()),
        ApiError::DatabaseConflict("x".into()),
    ];
    let responses = &document()["components"]["responses"];
    let mut codes: Vec<&str> = samples.iter().map(ApiError::code).collect();
    codes.sort();
    codes.dedup();
    let mut documented = ERROR_CODES.to_vec();
    documented.sort();
    assert_eq!(codes, documented);
    for err in samples {
        assert!(ERROR_CODES.contains(&err.code()), "{:?}", err);
        // 404 for unknown routes and 405 are answered by any path, not per operation.
        if !matches!(
            err,
            ApiError::RouteNotFound | ApiError::MethodNotAllowed { .. }
        ) {
            let key = format!("E{}", err.status());
            assert!(responses.get(&key).is_some(), "{key} for {err:?}");
        }
    }
}

#[test]
fn every_operation_of_the_route_table_is_documented_with_its_statuses() {
    let doc = document();
    let mut ids = Vec::new();
    for route in &ROUTES {
        let item = &doc["paths"][openapi_path(route.pattern).as_str()];
        for operation in route.operations {
            let method = operation.method.as_ref().to_ascii_lowercase();
            let documented = &item[method.as_str()];
            assert_eq!(documented["operationId"], operation.doc.id);
            for code in operation.doc.errors {
                let key = format!("E{code}");
                assert!(
                    doc["components"]["responses"].get(&key).is_some(),
                    "{key} for {}",
                    operation.doc.id
                );
                assert!(documented["responses"].get(code.to_string()).is_some());
            }
            ids.push(operation.doc.id);
        }
        // Every `{name}` in the path is declared.
        let declared = item["parameters"].as_array().map_or(0, Vec::len);
        assert_eq!(
            declared,
            route.pattern.matches(':').count(),
            "{}",
            route.pattern
        );
    }
    let count = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), count, "operationIds are unique");
    assert_eq!(doc["paths"].as_object().unwrap().len(), ROUTES.len());
}

#[test]
fn the_title_pattern_matches_the_parser() {
    // The pattern is for JSON Schema validators; evaluating it with a regex engine on the
    // parser's samples shows the two agree: every character of the Basic Multilingual Plane's
    // first blocks (all controls and Unicode spaces among them) alone, inside and around text.
    let pattern = regex::Regex::new(TITLE_PATTERN).unwrap();
    let samples = (0u32..0x3100)
        .chain([0xfeff, 0x1f600])
        .filter_map(char::from_u32)
        .flat_map(|c| {
            [
                format!("{c}"),
                format!("a{c}b"),
                format!("{c}x{c}"),
                format!("{c}{c}"),
            ]
        });
    let fixed = [
        "Buy milk",
        "  x  ",
        "   ",
        "",
        "line1\r\nline2",
        "Buy milk\n",
        "\tBuy milk",
    ];
    for title in samples.chain(fixed.map(String::from)) {
        let parsed = crate::tasks::NewTask::parse(json!({ "title": title }).to_string().as_bytes());
        assert_eq!(pattern.is_match(&title), parsed.is_ok(), "{title:?}");
    }
}

#[test]
fn the_description_pattern_matches_the_parser() {
    // As for titles: the pattern and the parser judge the same samples alike.
    let pattern = regex::Regex::new(DESCRIPTION_PATTERN).unwrap();
    let samples = (0u32..0x3100)
        .chain([0xfeff, 0x1f600])
        .filter_map(char::from_u32)
        .flat_map(|c| [format!("{c}"), format!("a{c}b"), format!("{c}{c}")]);
    for description in samples.chain(["".into(), "  ".into(), "a\r\nb".into()]) {
        let body = json!({ "title": "t", "description": description }).to_string();
        let parsed = crate::tasks::NewTask::parse(body.as_bytes());
        assert_eq!(
            pattern.is_match(&description),
            parsed.is_ok(),
            "{description:?}"
        );
    }
}

#[test]
fn the_readme_endpoint_table_lists_each_operations_documented_errors() {
    // The README's table is written by hand; this holds it to the route table (500 is said
    // once for every /api route in the text below the table).
    let readme = include_str!("../README.md");
    for route in &ROUTES {
        let path = openapi_path(route.pattern);
        for operation in route.operations {
            let method = operation.method.as_ref();
            let cell = format!("| {method} | `{path}`");
            let row = readme
                .lines()
                .find(|line| line.starts_with(&cell))
                .unwrap_or_else(|| panic!("README has no row for {method} {path}"));
            if path.starts_with("/api/") {
                let listed = row.rsplit('|').nth(1).unwrap().trim();
                let expected: Vec<String> = operation
                    .doc
                    .errors
                    .iter()
                    .filter(|code| **code != 500)
                    .map(u16::to_string)
                    .collect();
                assert_eq!(listed, expected.join(", "), "{method} {path}");
            }
        }
    }
}
