//! The one structured log line each request writes. Pure, so its shape is unit-tested: it
//! carries no tokens, secrets or bodies, only what an operator needs to follow a request.

use serde_json::{json, Value};

/// What is known about a finished request.
pub struct RequestRecord<'a> {
    pub request_id: &'a str,
    pub method: &'a str,
    /// The route *pattern* (`/api/:user_id/tasks/:id`), never the concrete path, which holds a
    /// user id.
    pub route: &'a str,
    pub status: u16,
    pub duration_ms: u64,
    /// For server faults: the error code and the cause (SQLSTATE, socket error, config).
    pub fault: Option<(&'a str, &'a str)>,
}

impl RequestRecord<'_> {
    pub fn to_line(&self) -> String {
        let mut line = json!({
            "level": if self.status >= 500 { "error" } else { "info" },
            "msg": "request",
            "request_id": self.request_id,
            "method": self.method,
            "route": self.route,
            "status": self.status,
            "duration_ms": self.duration_ms,
        });
        if let (Some((code, cause)), Value::Object(map)) = (self.fault, &mut line) {
            map.insert("error".into(), json!(code));
            map.insert("cause".into(), json!(cause));
        }
        line.to_string()
    }
}

/// `cf-ray` is Cloudflare's own request id; reuse it when it looks like one so logs and
/// Cloudflare's dashboard agree.
pub fn usable_ray(ray: Option<&str>) -> Option<&str> {
    ray.filter(|ray| {
        !ray.is_empty()
            && ray.len() <= 64
            && ray.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_line_is_one_json_object_with_the_documented_fields() {
        let line = RequestRecord {
            request_id: "abc",
            method: "GET",
            route: "/api/:user_id/tasks",
            status: 200,
            duration_ms: 12,
            fault: None,
        }
        .to_line();
        assert!(!line.contains('\n'));
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["level"], "info");
        assert_eq!(value["request_id"], "abc");
        assert_eq!(value["route"], "/api/:user_id/tasks");
        assert_eq!(value["status"], 200);
        assert_eq!(value["duration_ms"], 12);
        assert!(value.get("cause").is_none());
    }

    #[test]
    fn a_server_fault_is_logged_with_its_cause() {
        let line = RequestRecord {
            request_id: "abc",
            method: "POST",
            route: "/api/:user_id/tasks",
            status: 500,
            duration_ms: 3,
            fault: Some(("database_unavailable", "08006 connection failure")),
        }
        .to_line();
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["level"], "error");
        assert_eq!(value["error"], "database_unavailable");
        assert_eq!(value["cause"], "08006 connection failure");
    }

    #[test]
    fn only_well_formed_ray_ids_are_reused() {
        assert_eq!(
            usable_ray(Some("8f1c2a3b4d5e6f70-AMS")),
            Some("8f1c2a3b4d5e6f70-AMS")
        );
        assert_eq!(usable_ray(Some("")), None);
        assert_eq!(usable_ray(Some("a\"b")), None);
        assert_eq!(usable_ray(Some(&"a".repeat(65))), None);
        assert_eq!(usable_ray(None), None);
    }
}
