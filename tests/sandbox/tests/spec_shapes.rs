//! Every key the sandbox emits is a property the Box OpenAPI spec defines for that schema, and
//! the shapes match Box's own SDK fixtures. The spec excerpt and fixtures are copied into
//! `tests/fixtures/box/` (Apache-2.0, see the LICENSE there), so this needs nothing outside the
//! project.

mod common;

use std::collections::BTreeSet;

use common::*;
use reqwest::StatusCode;
use serde_json::Value;

const SPEC: &str = include_str!("fixtures/box/spec_subset.json");
const FIXTURE_EVENTS: &str = include_str!("fixtures/box/GetEnterpriseEvents200.json");
const FIXTURE_USERS_MARKER: &str =
    include_str!("fixtures/box/GetAllEnterpriseUsersMarkerPagination200.json");
const FIXTURE_USERS_OFFSET: &str = include_str!("fixtures/box/get_users_200.json");
const FIXTURE_USERS_OFFSET_JAVA: &str = include_str!("fixtures/box/GetAllEnterpriseUsers200.json");
const FIXTURE_ME_ENTERPRISE: &str =
    include_str!("fixtures/box/get_users_me_fields_enterprise_200.json");
const FIXTURE_404: &str = include_str!("fixtures/box/get_collaborations_id_404.json");
const FIXTURE_TRANSFER: &str = include_str!("fixtures/box/PutTransferFolder200.json");

/// Event keys that real enterprise events carry (Box's Java SDK fixture has them) although the
/// OpenAPI `Event` schema does not list them.
const EVENT_KEYS_FROM_FIXTURE: &[&str] = &["action_by", "ip_address"];
/// Error codes Box documents (rate-limits and common-errors guides) beyond the schema's enum.
const DOCUMENTED_ERROR_CODES: &[&str] = &["rate_limit_exceeded", "bad_gateway"];

struct Spec(Value);

impl Spec {
    fn load() -> Spec {
        Spec(serde_json::from_str(SPEC).expect("spec subset is JSON"))
    }

    fn props(&self, schema: &str) -> BTreeSet<String> {
        self.0["schemas"][schema]["properties"]
            .as_array()
            .unwrap_or_else(|| panic!("no schema {schema} in the subset"))
            .iter()
            .map(|p| p.as_str().expect("name").to_string())
            .collect()
    }

    fn required(&self, schema: &str) -> BTreeSet<String> {
        self.0["schemas"][schema]["required"]
            .as_array()
            .expect("required")
            .iter()
            .map(|p| p.as_str().expect("name").to_string())
            .collect()
    }

    fn enum_values(&self, name: &str) -> BTreeSet<String> {
        self.0["enums"][name]
            .as_array()
            .unwrap_or_else(|| panic!("no enum {name}"))
            .iter()
            .map(|p| p.as_str().expect("value").to_string())
            .collect()
    }

    /// Asserts `value` is an object whose keys are all properties of `schema` (plus `extra`)
    /// and that it has the schema's required keys.
    fn check(&self, schema: &str, value: &Value, extra: &[&str]) {
        let allowed: BTreeSet<String> = self
            .props(schema)
            .into_iter()
            .chain(extra.iter().map(|s| s.to_string()))
            .collect();
        let got = key_set(value);
        let unknown: Vec<&String> = got.difference(&allowed).collect();
        assert!(
            unknown.is_empty(),
            "{schema}: keys {unknown:?} are not in the spec; value {value}"
        );
        let missing: Vec<String> = self.required(schema).difference(&got).cloned().collect();
        assert!(
            missing.is_empty(),
            "{schema}: required {missing:?} missing; value {value}"
        );
    }

    fn check_user(&self, user: &Value, schema: &str) {
        self.check(schema, user, &[]);
        assert_eq!(user["type"], "user");
        if let Some(status) = user.get("status") {
            assert!(self
                .enum_values("User.status")
                .contains(status.as_str().expect("status")));
        }
        if let Some(role) = user.get("role") {
            assert!(self
                .enum_values("User--Full.role")
                .contains(role.as_str().expect("role")));
        }
        if let Some(e) = user.get("enterprise") {
            self.check("Enterprise", e, &[]);
        }
        if let Some(n) = user.get("notification_email").filter(|n| !n.is_null()) {
            self.check("User.notification_email", n, &[]);
        }
        for code in user
            .get("tracking_codes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.check("TrackingCode", code, &[]);
        }
        for key in ["created_at", "modified_at"] {
            if let Some(t) = user.get(key) {
                assert_box_time(t);
            }
        }
    }

    fn check_error(&self, body: &Value) {
        self.check("ClientError", body, &[]);
        let code = body["code"].as_str().expect("code");
        assert!(
            self.enum_values("ClientError.code").contains(code)
                || DOCUMENTED_ERROR_CODES.contains(&code),
            "error code {code}"
        );
    }
}

/// RFC 3339 with a numeric offset, like the spec's `2012-12-12T10:53:43-08:00`.
fn assert_box_time(v: &Value) {
    let s = v.as_str().expect("timestamp string");
    assert!(chrono::DateTime::parse_from_rfc3339(s).is_ok(), "{s}");
    assert_eq!(s.len(), "2012-12-12T10:53:43-08:00".len(), "{s}");
    assert!(!s.ends_with('Z'), "{s}");
}

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture is JSON")
}

#[tokio::test]
async fn token_and_oauth_errors_match_the_spec() {
    let spec = Spec::load();
    let sb = start(5, 1).await;
    let (status, body) = token_response(&sb).await;
    assert_eq!(status, StatusCode::OK);
    spec.check("AccessToken", &body, &[]);
    assert!(spec
        .enum_values("AccessToken.token_type")
        .contains(body["token_type"].as_str().expect("token_type")));
    assert!(spec.enum_values("AccessToken.issued_token_type").contains(
        body["issued_token_type"]
            .as_str()
            .expect("issued_token_type")
    ));
    assert!(
        body.get("refresh_token").is_none(),
        "client credentials grants have no refresh token"
    );

    let (status, body) = post_form(
        &sb,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "x"),
            ("client_secret", "y"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    spec.check("OAuth2Error", &body, &[]);

    // The form fields seatkeeper sends are all spec fields.
    let form_fields: BTreeSet<String> = spec.0["form_parameters"]["POST /oauth2/token"]
        .as_array()
        .expect("form params")
        .iter()
        .map(|p| p.as_str().expect("name").to_string())
        .collect();
    for field in [
        "grant_type",
        "client_id",
        "client_secret",
        "box_subject_type",
        "box_subject_id",
    ] {
        assert!(form_fields.contains(field), "{field}");
    }
}

#[tokio::test]
async fn users_match_the_spec_and_the_sdk_fixtures() {
    let spec = Spec::load();
    let sb = start(500, 8).await;
    let token = token(&sb).await;

    // Marker page: same top-level keys as the Java SDK's marker fixture, all in `Users`.
    let (_, page) = get(&sb, &token, "/users?usemarker=true&limit=1000").await;
    spec.check("Users", &page, &[]);
    let fixture_marker = fixture(FIXTURE_USERS_MARKER);
    assert_eq!(key_set(&page), key_set(&fixture_marker));
    let fixture_user_keys = key_set(&fixture_marker["entries"][0]);
    for user in page["entries"].as_array().expect("entries") {
        spec.check_user(user, "User");
        // The standard fields: what the fixtures show, plus `notification_email`, which the
        // spec added to the standard `User` after those fixtures were captured.
        let mut expected = fixture_user_keys.clone();
        expected.insert("notification_email".to_string());
        assert_eq!(key_set(user), expected);
    }

    // Offset page: same keys as both offset fixtures.
    let (_, page) = get(&sb, &token, "/users?limit=50&offset=10").await;
    spec.check("Users", &page, &[]);
    assert_eq!(key_set(&page), key_set(&fixture(FIXTURE_USERS_OFFSET)));
    assert_eq!(key_set(&page), key_set(&fixture(FIXTURE_USERS_OFFSET_JAVA)));

    // Every User--Full field, when asked for, is returned and nothing else.
    let all_full: Vec<String> = spec.props("User--Full").into_iter().collect();
    let (_, page) = get(
        &sb,
        &token,
        &format!(
            "/users?usemarker=true&limit=1000&fields={}",
            all_full.join(",")
        ),
    )
    .await;
    for user in page["entries"].as_array().expect("entries") {
        spec.check_user(user, "User--Full");
        assert_eq!(key_set(user), spec.props("User--Full"));
    }

    // `fields=enterprise` on /users/me: exactly the node SDK fixture's keys.
    let (_, me) = get(&sb, &token, "/users/me?fields=enterprise").await;
    assert_eq!(key_set(&me), key_set(&fixture(FIXTURE_ME_ENTERPRISE)));
    assert_eq!(
        key_set(&me["enterprise"]),
        key_set(&fixture(FIXTURE_ME_ENTERPRISE)["enterprise"])
    );
    spec.check_user(&me, "User--Full");

    // Every query parameter the spec defines for GET /users is accepted.
    let params = &spec.0["query_parameters"]["GET /users"];
    let values = |name: &str| match name {
        "filter_term" => "a",
        "user_type" => "managed",
        "external_app_user_id" => "ext-1",
        "fields" => "id,name",
        "offset" => "0",
        "limit" => "10",
        "usemarker" => "true",
        "marker" => "eyJ0eXBlIjoiaWQiLCJkaXIiOiJuZXh0IiwidGFpbCI6IjEwMDAwMDEwIn0",
        other => panic!("the spec has a parameter {other} the sandbox does not know"),
    };
    let query: Vec<String> = params
        .as_array()
        .expect("params")
        .iter()
        .map(|p| {
            let name = p.as_str().expect("name");
            format!("{name}={}", values(name))
        })
        .collect();
    let (status, body) = get(&sb, &token, &format!("/users?{}", query.join("&"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn events_match_the_spec_and_the_sdk_fixture() {
    let spec = Spec::load();
    let sb = start(300, 8).await;
    let token = token(&sb).await;
    let event_types = spec.enum_values("Event.event_type");
    let fixture = fixture(FIXTURE_EVENTS);
    let fixture_event = &fixture["entries"][0];
    // The extra keys are exactly those of Box's fixture that the schema lacks.
    let schema_props = spec.props("Event");
    let fixture_extra: Vec<String> = key_set(fixture_event)
        .difference(&schema_props)
        .cloned()
        .collect();
    assert_eq!(fixture_extra, EVENT_KEYS_FROM_FIXTURE);

    let (events, _) = page_events(&sb, &token, "limit=500").await;
    assert!(events.len() > 300);
    let (_, page) = get(&sb, &token, "/events?stream_type=admin_logs&limit=5").await;
    spec.check("Events", &page, &[]);
    assert_eq!(key_set(&page), key_set(&fixture));
    assert!(
        page["next_stream_position"].is_string(),
        "a string, like the fixture"
    );

    for e in &events {
        spec.check("Event", e, EVENT_KEYS_FROM_FIXTURE);
        assert_eq!(
            key_set(e),
            key_set(fixture_event),
            "same keys as Box's fixture"
        );
        assert!(
            event_types.contains(e["event_type"].as_str().expect("event_type")),
            "{e}"
        );
        assert_box_time(&e["created_at"]);
        spec.check("User--Mini", &e["created_by"], &[]);
        let source = &e["source"];
        if source.get("item_type").is_some() {
            spec.check("EventSource", source, &[]);
            spec.check("Folder--Mini", &source["parent"], &[]);
            spec.check("User--Mini", &source["owned_by"], &[]);
        } else {
            spec.check("User--Mini", source, &[]);
        }
        uuid_like(e["event_id"].as_str().expect("event_id"));
    }
}

fn uuid_like(s: &str) {
    let groups: Vec<usize> = s.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12], "{s}");
    assert!(s.chars().all(|c| c == '-' || c.is_ascii_hexdigit()), "{s}");
}

#[tokio::test]
async fn errors_match_the_spec_and_the_sdk_fixture() {
    let spec = Spec::load();
    let sb = start(5, 1).await;
    let token = token(&sb).await;
    let (status, body) = get(&sb, &token, "/users/424242").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    spec.check_error(&body);
    let fixture_404 = fixture(FIXTURE_404);
    assert_eq!(key_set(&body), key_set(&fixture_404));
    assert_eq!(
        key_set(&body["context_info"]["errors"][0]),
        key_set(&fixture_404["context_info"]["errors"][0])
    );
    assert_eq!(body["help_url"], fixture_404["help_url"]);

    let (_, body) = get(&sb, &token, "/users?limit=5000").await;
    spec.check_error(&body);

    use provider_sandbox::{FaultKind, FaultRule, Route};
    for kind in [
        FaultKind::RateLimited {
            retry_after_secs: 1,
        },
        FaultKind::ServerError { status: 500 },
        FaultKind::ServerError { status: 502 },
        FaultKind::ServerError { status: 503 },
    ] {
        sb.faults().push(FaultRule::new(Route::BoxUsers, kind));
        let (_, body) = get(&sb, &token, "/users").await;
        spec.check_error(&body);
    }
}

#[test]
fn event_query_parameters_are_the_specs() {
    let spec = Spec::load();
    let params: BTreeSet<String> = spec.0["query_parameters"]["GET /events"]
        .as_array()
        .expect("params")
        .iter()
        .map(|p| p.as_str().expect("name").to_string())
        .collect();
    let used: BTreeSet<String> = [
        "stream_type",
        "stream_position",
        "limit",
        "event_type",
        "created_after",
        "created_before",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(params, used);
}

fn check_folder_mini(spec: &Spec, v: &Value) {
    spec.check("Folder--Mini", v, &[]);
    assert_eq!(v["type"], "folder");
}

#[tokio::test]
async fn transfer_matches_the_spec_and_the_sdk_fixture() {
    let spec = Spec::load();
    let sb = start(20, 3).await;
    let token = token(&sb).await;
    let users = sb.box_tenant().users();
    let from = users
        .iter()
        .find(|u| !u.is_platform_access_only && u.role == "user")
        .expect("a user");
    let to = &users[0];
    let (status, body) = box_transfer(&sb, &token, &from.id, &to.id).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Without `fields`: the standard `Folder` fields, exactly the keys of Box's fixture.
    let fixture = fixture(FIXTURE_TRANSFER);
    assert_eq!(key_set(&body), key_set(&fixture));
    spec.check("Folder", &body, &[]);
    spec.check("Folder--Full", &body, &[]);
    assert!(spec
        .enum_values("Folder--Full.item_status")
        .contains(body["item_status"].as_str().expect("item_status")));
    for key in ["owned_by", "created_by", "modified_by"] {
        spec.check_user(&body[key], "User--Mini");
        assert_eq!(key_set(&body[key]), key_set(&fixture[key]), "{key}");
    }
    check_folder_mini(&spec, &body["parent"]);
    assert_eq!(
        body["parent"], fixture["parent"],
        "the root, as Box renders it"
    );
    spec.check(
        "Folder--Full.path_collection",
        &body["path_collection"],
        &[],
    );
    assert_eq!(body["path_collection"], fixture["path_collection"]);
    let items = &body["item_collection"];
    spec.check("Items", items, &[]);
    assert_eq!(key_set(items), key_set(&fixture["item_collection"]));
    assert_eq!(items["order"], fixture["item_collection"]["order"]);
    for order in items["order"].as_array().expect("order") {
        spec.check("Items.order[]", order, &[]);
    }
    let entries = items["entries"].as_array().expect("entries");
    assert!(!entries.is_empty());
    for e in entries {
        match e["type"].as_str() {
            Some("file") => spec.check("File--Mini", e, &[]),
            Some("folder") => check_folder_mini(&spec, e),
            other => panic!("entry type {other:?}"),
        }
    }
    for key in [
        "created_at",
        "modified_at",
        "content_created_at",
        "content_modified_at",
    ] {
        assert_box_time(&body[key]);
    }
    for key in ["id", "sequence_id", "etag", "name", "description"] {
        assert!(body[key].is_string(), "{key}");
    }
    assert!(body["size"].is_i64());
    for key in [
        "trashed_at",
        "purged_at",
        "shared_link",
        "folder_upload_email",
    ] {
        assert!(body[key].is_null(), "{key}");
    }

    // A transferred folder moved again is a `Folder--Mini` entry.
    let (status, nested) = box_transfer(&sb, &token, &to.id, &from.id).await;
    assert_eq!(status, StatusCode::OK);
    let folder_entry = nested["item_collection"]["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["id"] == body["id"])
        .expect("the first folder")
        .clone();
    check_folder_mini(&spec, &folder_entry);

    // With `fields`: `Folder--Mini` plus the asked ones.
    let (status, some) = box_call(
        &sb,
        &token,
        reqwest::Method::PUT,
        &format!(
            "/users/{}/folders/0?fields=has_collaborations,item_status",
            from.id
        ),
        Some(serde_json::json!({"owned_by": {"id": to.id}}).to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    spec.check("Folder--Full", &some, &[]);
    let mut expected = spec.props("Folder--Mini");
    expected.extend(["has_collaborations".to_string(), "item_status".to_string()]);
    assert_eq!(key_set(&some), expected);
}

#[tokio::test]
async fn reclaim_errors_match_the_spec() {
    let spec = Spec::load();
    let sb = start(10, 3).await;
    let tenant = sb.box_tenant();
    let token = token(&sb).await;
    let user = tenant
        .users()
        .into_iter()
        .find(|u| !u.is_platform_access_only && u.role == "user")
        .expect("a user");
    let mut bodies = vec![
        box_delete(&sb, &token, &user.id, false).await.1, // owns content
        box_delete(&sb, &token, "424242", false).await.1,
        box_transfer(&sb, &token, "424242", &user.id).await.1,
        box_transfer(&sb, &token, &user.id, "424242").await.1,
        box_transfer(&sb, &token, &user.id, &user.id).await.1,
    ];
    tenant.set_status(&user.id, "cannot_delete_edit");
    bodies.push(box_delete(&sb, &token, &user.id, true).await.1);
    for body in &bodies {
        spec.check_error(body);
        assert!(body["request_id"].is_string());
    }
    let fixture_404 = fixture(FIXTURE_404);
    assert_eq!(key_set(&bodies[1]), key_set(&fixture_404));
    assert_eq!(key_set(&bodies[3]), key_set(&fixture_404));
}

#[test]
fn reclaim_parameters_are_the_specs() {
    let spec = Spec::load();
    let names = |key: &str| -> BTreeSet<String> {
        spec.0["query_parameters"][key]
            .as_array()
            .unwrap_or_else(|| panic!("{key}"))
            .iter()
            .map(|p| p.as_str().expect("name").to_string())
            .collect()
    };
    let set = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        names("PUT /users/{user_id}/folders/0"),
        set(&["fields", "notify"])
    );
    assert_eq!(names("DELETE /users/{user_id}"), set(&["force", "notify"]));
    let body = &spec.0["request_bodies"]["PUT /users/{user_id}/folders/0"];
    assert_eq!(body["required"], serde_json::json!(["owned_by"]));
    assert_eq!(body["owned_by"]["properties"], serde_json::json!(["id"]));
    assert_eq!(body["owned_by"]["required"], serde_json::json!(["id"]));
}

#[tokio::test]
async fn user_update_answers_a_user_full() {
    let spec = Spec::load();
    let sb = start(20, 44).await;
    let token = token(&sb).await;
    let id = sb
        .box_tenant()
        .users()
        .into_iter()
        .find(|u| u.role == "user" && u.status == "active" && !u.is_platform_access_only)
        .expect("a user")
        .id;
    let (status, user) = box_call(
        &sb,
        &token,
        reqwest::Method::PUT,
        &format!("/users/{id}"),
        Some(r#"{"status":"inactive"}"#.into()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    spec.check_user(&user, "User--Full");
    assert_eq!(key_set(&user), spec.props("User--Full"));
    assert_eq!(user["status"], "inactive");
}
