//! Box's undo window over real HTTP: `PUT /users/{id}` with `{"status": "inactive"}` suspends a
//! user (content and seat stay), `"active"` undoes it, and a deleted user is gone (404); bad
//! bodies are 400s. The answer's shape is checked against the spec in `spec_shapes.rs`.

mod common;

use common::*;
use provider_sandbox::Sandbox;
use reqwest::{Method, StatusCode};

fn a_user(sb: &Sandbox) -> String {
    sb.box_tenant()
        .users()
        .into_iter()
        .find(|u| u.role == "user" && u.status == "active" && !u.is_platform_access_only)
        .expect("an active user")
        .id
}

async fn set_status(
    sb: &Sandbox,
    token: &str,
    id: &str,
    body: &str,
) -> (StatusCode, serde_json::Value) {
    box_call(
        sb,
        token,
        Method::PUT,
        &format!("/users/{id}"),
        Some(body.into()),
    )
    .await
}

#[tokio::test]
async fn inactive_suspends_and_active_reactivates_keeping_content() {
    let sb = start(30, 51).await;
    let token = token(&sb).await;
    let id = a_user(&sb);
    let owned = sb.box_tenant().owned_items(&id);
    assert!(!owned.is_empty());
    let (s, u) = set_status(&sb, &token, &id, r#"{"status":"inactive"}"#).await;
    assert_eq!(
        (s, u["status"].as_str()),
        (StatusCode::OK, Some("inactive"))
    );
    assert_eq!(u["id"], id.as_str());
    let (_, read) = get(&sb, &token, &format!("/users/{id}?fields=status")).await;
    assert_eq!(read["status"], "inactive");
    assert_eq!(sb.box_tenant().owned_items(&id), owned, "content stays");
    // a repeat is harmless
    let (s, u) = set_status(&sb, &token, &id, r#"{"status":"inactive"}"#).await;
    assert_eq!(
        (s, u["status"].as_str()),
        (StatusCode::OK, Some("inactive"))
    );
    let (s, u) = set_status(&sb, &token, &id, r#"{"status":"active"}"#).await;
    assert_eq!((s, u["status"].as_str()), (StatusCode::OK, Some("active")));
    // `fields` narrows the answer as for GET
    let (_, u) = box_call(
        &sb,
        &token,
        Method::PUT,
        &format!("/users/{id}?fields=status"),
        Some(r#"{"status":"active"}"#.into()),
    )
    .await;
    let mut keys = keys(&u);
    keys.sort();
    assert_eq!(keys, ["id", "status", "type"]);
}

#[tokio::test]
async fn bad_bodies_and_deleted_users_are_refused() {
    let sb = start(30, 52).await;
    let token = token(&sb).await;
    let id = a_user(&sb);
    for body in [
        r#"{"status":"suspended"}"#,
        r#"{"status":1}"#,
        "[]",
        "nope",
        r#"{"colour":"red"}"#,
    ] {
        let (s, e) = set_status(&sb, &token, &id, body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(e["code"], "bad_request", "{body}: {e}");
    }
    assert_eq!(sb.box_tenant().user(&id).unwrap().status, "active");
    let (s, e) = set_status(&sb, &token, "424242", r#"{"status":"inactive"}"#).await;
    assert_eq!(
        (s, e["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    // a deleted Box user is gone: nothing brings them back
    sb.box_tenant().set_owned_files(&id, 0);
    let (s, _) = box_delete(&sb, &token, &id, false).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, e) = set_status(&sb, &token, &id, r#"{"status":"active"}"#).await;
    assert_eq!(
        (s, e["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
}
