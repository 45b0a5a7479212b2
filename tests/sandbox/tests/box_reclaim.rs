//! The Box reclaim endpoints over real HTTP: content ownership, `PUT /users/{id}/folders/0`
//! (transfer), `DELETE /users/{id}`, their faults and stats, and the handle / control API.

mod common;

use common::*;
use provider_sandbox::{BoxUser, FaultKind, FaultRule, NewBoxUser, Route, Sandbox};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Managed (non app) users with the `user` role and this status, ordered by id.
fn humans(sb: &Sandbox, status: &str) -> Vec<BoxUser> {
    sb.box_tenant()
        .users()
        .into_iter()
        .filter(|u| !u.is_platform_access_only && u.role == "user" && u.status == status)
        .collect()
}

fn admin(sb: &Sandbox) -> BoxUser {
    sb.box_tenant().users().remove(0)
}

fn entry_ids(folder: &Value) -> Vec<String> {
    let mut ids: Vec<String> = folder["item_collection"]["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_string())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

// ---------------------------------------------------------------------------------------------
// Ownership

#[tokio::test]
async fn generated_users_own_a_few_files_deterministically() {
    let a = start(200, 21).await;
    let b = start(200, 21).await;
    let (ta, tb) = (a.box_tenant(), b.box_tenant());
    let mut counts = [0usize; 5];
    for u in ta.users() {
        let items = ta.owned_items(&u.id);
        assert_eq!(items, tb.owned_items(&u.id), "same seed, same ownership");
        if u.is_platform_access_only {
            assert!(items.is_empty(), "app users own nothing");
        } else {
            assert!((1..=4).contains(&items.len()), "{}: {items:?}", u.id);
            counts[items.len()] += 1;
        }
    }
    assert!(
        counts[1..].iter().all(|&c| c > 0),
        "every count occurs: {counts:?}"
    );
    assert!(
        !ta.owned_items("10000001").is_empty(),
        "the admin owns files too"
    );
    assert!(ta.owned_items("424242").is_empty());
    assert!(ta.owned_items("nope").is_empty());
    assert!(ta.has_user("10000001") && !ta.has_user("424242") && !ta.has_user("me"));

    // Added users own nothing until told otherwise; set_owned_files replaces.
    let u = ta.add_user(NewBoxUser::member("New Hire", "new.hire@example.com"));
    assert!(ta.owned_items(&u.id).is_empty());
    ta.set_owned_files(&u.id, 3);
    let fresh = ta.owned_items(&u.id);
    assert_eq!(fresh.len(), 3);
    ta.set_owned_files(&u.id, 1);
    let replaced = ta.owned_items(&u.id);
    assert_eq!(replaced.len(), 1);
    assert!(!fresh.contains(&replaced[0]), "fresh files get fresh ids");
    ta.set_owned_files("424242", 5);
    assert!(
        ta.owned_items("424242").is_empty(),
        "unknown users are ignored"
    );
    // Ground truth is not an HTTP call.
    assert_eq!(a.stats().calls(Route::Any), 0);
}

// ---------------------------------------------------------------------------------------------
// Transfer

#[tokio::test]
async fn transfer_moves_everything_into_one_new_folder_owned_by_the_destination() {
    let sb = start(30, 5).await;
    let tenant = sb.box_tenant();
    let token = token(&sb).await;
    let source = humans(&sb, "inactive")
        .into_iter()
        .chain(humans(&sb, "active"))
        .next()
        .expect("a user");
    let dest = admin(&sb);
    let owned = tenant.owned_items(&source.id);
    let dest_before = tenant.owned_items(&dest.id);
    assert!(!owned.is_empty());

    let (status, folder) = box_transfer(&sb, &token, &source.id, &dest.id).await;
    assert_eq!(status, StatusCode::OK, "{folder}");
    assert_eq!(folder["type"], "folder");
    assert_eq!(
        folder["name"],
        format!("{}'s Files and Folders", source.name)
    );
    assert_eq!(
        folder["owned_by"],
        json!({"type": "user", "id": dest.id, "name": dest.name, "login": dest.login})
    );
    assert_eq!(folder["parent"]["id"], "0");
    assert_eq!(folder["item_status"], "active");
    assert_eq!(folder["item_collection"]["total_count"], owned.len());
    assert_eq!(entry_ids(&folder), sorted(owned.clone()));
    assert!(folder["size"].as_i64().expect("size") > 0);
    let folder_id = folder["id"].as_str().expect("id").to_string();

    // Ground truth: the source owns nothing, the destination owns the new folder too.
    assert!(tenant.owned_items(&source.id).is_empty());
    let mut expected = dest_before.clone();
    expected.push(folder_id.clone());
    assert_eq!(tenant.owned_items(&dest.id), expected);
    let transfers = tenant.transfers();
    assert_eq!(transfers.len(), 1);
    assert_eq!(transfers[0].from_user_id, source.id);
    assert_eq!(transfers[0].to_user_id, dest.id);
    assert_eq!(transfers[0].folder_id, folder_id);
    assert_eq!(transfers[0].items_moved, owned.len());
    assert!(tenant.has_user(&source.id), "a transfer deletes nobody");

    // Not idempotent: a second transfer makes another, empty folder.
    let (status, again) = box_transfer(&sb, &token, &source.id, &dest.id).await;
    assert_eq!(status, StatusCode::OK);
    let again_id = again["id"].as_str().expect("id").to_string();
    assert_ne!(again_id, folder_id);
    assert_eq!(again["name"], folder["name"]);
    assert_eq!(again["item_collection"]["total_count"], 0);
    assert_eq!(again["item_collection"]["entries"], json!([]));
    assert_eq!(again["size"], 0);
    expected.push(again_id);
    assert_eq!(tenant.owned_items(&dest.id), expected);
    let transfers = tenant.transfers();
    assert_eq!(transfers.len(), 2);
    assert_eq!(transfers[1].items_moved, 0);

    // Passing everything on again moves the folders (one level down) as items.
    let other = humans(&sb, "active")
        .into_iter()
        .find(|u| u.id != source.id)
        .expect("another user");
    let (status, nested) = box_transfer(&sb, &token, &dest.id, &other.id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(nested["item_collection"]["total_count"], expected.len());
    assert_eq!(entry_ids(&nested), sorted(expected.clone()));
    let folders: Vec<&Value> = nested["item_collection"]["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["type"] == "folder")
        .collect();
    assert_eq!(folders.len(), 2);
    assert!(folders
        .iter()
        .all(|f| f["name"] == format!("{}'s Files and Folders", source.name)));
    assert!(tenant.owned_items(&dest.id).is_empty());
    assert_eq!(tenant.transfers()[2].items_moved, expected.len());
}

#[tokio::test]
async fn transfer_fields_select_the_mini_fields_plus_the_asked_ones() {
    let sb = start(10, 5).await;
    let token = token(&sb).await;
    let users = humans(&sb, "active");
    let (status, body) = box_call(
        &sb,
        &token,
        Method::PUT,
        &format!(
            "/users/{}/folders/0?fields=owned_by,bogus,tags",
            users[0].id
        ),
        Some(json!({"owned_by": {"id": users[1].id}}).to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        keys(&body),
        [
            "etag",
            "id",
            "name",
            "owned_by",
            "sequence_id",
            "tags",
            "type"
        ]
    );
}

#[tokio::test]
async fn transfer_errors_change_nothing() {
    let sb = start(20, 6).await;
    let tenant = sb.box_tenant();
    let token = token(&sb).await;
    let users = humans(&sb, "active");
    let (src, dst) = (users[0].id.clone(), users[1].id.clone());
    let before = tenant.owned_items(&src);
    let put = |path: String, body: Option<String>| {
        let (sb, token) = (&sb, token.clone());
        async move { box_call(sb, &token, Method::PUT, &path, body).await }
    };
    let path = format!("/users/{src}/folders/0");
    let cases: Vec<(String, Option<String>, StatusCode, &str)> = vec![
        (
            "/users/424242/folders/0".into(),
            Some(json!({"owned_by": {"id": dst}}).to_string()),
            StatusCode::NOT_FOUND,
            "user",
        ),
        (path.clone(), None, StatusCode::BAD_REQUEST, "body"),
        (
            path.clone(),
            Some("{not json".into()),
            StatusCode::BAD_REQUEST,
            "body",
        ),
        (
            path.clone(),
            Some("{}".into()),
            StatusCode::BAD_REQUEST,
            "owned_by",
        ),
        (
            path.clone(),
            Some(r#"{"owned_by": {}}"#.into()),
            StatusCode::BAD_REQUEST,
            "owned_by.id",
        ),
        (
            path.clone(),
            Some(r#"{"owned_by": {"id": 10000002}}"#.into()),
            StatusCode::BAD_REQUEST,
            "owned_by.id",
        ),
        (
            path.clone(),
            Some(json!({"owned_by": {"id": "424242"}}).to_string()),
            StatusCode::NOT_FOUND,
            "owned_by.id",
        ),
        (
            path.clone(),
            Some(json!({"owned_by": {"id": src}}).to_string()),
            StatusCode::BAD_REQUEST,
            "owned_by.id",
        ),
        (
            format!("{path}?notify=maybe"),
            Some(json!({"owned_by": {"id": dst}}).to_string()),
            StatusCode::BAD_REQUEST,
            "notify",
        ),
    ];
    for (path, body, want, name) in cases {
        let (status, err) = put(path.clone(), body.clone()).await;
        assert_eq!(status, want, "{path} {body:?}: {err}");
        assert_eq!(err["type"], "error");
        assert_eq!(err["status"], want.as_u16());
        assert_eq!(
            err["code"],
            if want == StatusCode::NOT_FOUND {
                "not_found"
            } else {
                "bad_request"
            }
        );
        assert_eq!(err["context_info"]["errors"][0]["name"], name, "{err}");
    }
    // No token: 401, empty body.
    let response = client()
        .put(format!("{}/users/{src}/folders/0", sb.box_api_url()))
        .json(&json!({"owned_by": {"id": dst}}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().contains_key("www-authenticate"));

    assert!(tenant.transfers().is_empty());
    assert_eq!(tenant.owned_items(&src), before);
    // A deleted source or destination is unknown.
    tenant.remove_user(&dst);
    let (status, _) = box_transfer(&sb, &token, &src, &dst).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = box_transfer(&sb, &token, &dst, &src).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------------------------------------
// Delete

#[tokio::test]
async fn delete_is_refused_while_content_is_owned_then_succeeds_after_the_transfer() {
    let sb = start(40, 7).await;
    let tenant = sb.box_tenant();
    let token = token(&sb).await;
    let user = humans(&sb, "inactive")
        .into_iter()
        .chain(humans(&sb, "active"))
        .find(|u| tenant.last_login(&u.id).is_some())
        .expect("a user who logged in");
    let owned = tenant.owned_items(&user.id);
    assert!(!owned.is_empty());

    let (status, err) = box_delete(&sb, &token, &user.id, false).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    assert_eq!(err["code"], "bad_request");
    assert!(err["message"]
        .as_str()
        .expect("message")
        .contains("own content"));
    assert!(tenant.has_user(&user.id), "a refusal deletes nothing");
    assert_eq!(tenant.owned_items(&user.id), owned);
    assert!(tenant.deleted_users().is_empty());
    assert_eq!(
        get(&sb, &token, &format!("/users/{}", user.id)).await.0,
        StatusCode::OK
    );

    let (status, _) = box_transfer(&sb, &token, &user.id, &admin(&sb).id).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = box_delete(&sb, &token, &user.id, false).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(body, Value::Null, "204 has an empty body");
    assert!(!tenant.has_user(&user.id));
    assert_eq!(tenant.deleted_users(), std::slice::from_ref(&user.id));

    // Gone from GET /users/{id} and the listing; a second DELETE is a 404.
    let (status, err) = get(&sb, &token, &format!("/users/{}", user.id)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err["code"], "not_found");
    let (ids, _) = page_users(&sb, &token, "limit=1000").await;
    assert!(!ids.contains(&user.id));
    assert_eq!(ids.len(), 39);
    let (status, err) = box_delete(&sb, &token, &user.id, false).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err["code"], "not_found");
    let (status, _) = box_delete(&sb, &token, &user.id, true).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(tenant.deleted_users().len(), 1);

    // Their past events stay, still naming them.
    let (events, _) = page_events(&sb, &token, "event_type=LOGIN").await;
    let theirs: Vec<&Value> = events
        .iter()
        .filter(|e| e["created_by"]["id"] == user.id.as_str())
        .collect();
    assert!(!theirs.is_empty());
    assert!(theirs
        .iter()
        .all(|e| e["created_by"]["name"] == user.name.as_str()));
    assert!(tenant.events().iter().any(|e| e.user_id == user.id));
}

#[tokio::test]
async fn force_deletes_the_user_and_their_files() {
    let sb = start(20, 8).await;
    let tenant = sb.box_tenant();
    let token = token(&sb).await;
    let user = humans(&sb, "active").remove(0);
    assert!(!tenant.owned_items(&user.id).is_empty());
    let (status, _) = box_delete(&sb, &token, &user.id, true).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(!tenant.has_user(&user.id));
    assert!(tenant.owned_items(&user.id).is_empty());
    assert!(tenant.transfers().is_empty(), "nothing was transferred");
    assert_eq!(tenant.deleted_users(), [user.id]);
    // force=false explicitly, on a user who owns nothing: fine too.
    let other = humans(&sb, "active").remove(0);
    tenant.set_owned_files(&other.id, 0);
    let (status, _) = box_call(
        &sb,
        &token,
        Method::DELETE,
        &format!("/users/{}?force=false&notify=true", other.id),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // App users own nothing: deletable without force.
    let app = tenant.add_user(NewBoxUser {
        is_platform_access_only: true,
        ..NewBoxUser::member("Portal Uploads 9", "AppUser_1_x@boxdevedition.com")
    });
    assert_eq!(
        box_delete(&sb, &token, &app.id, false).await.0,
        StatusCode::NO_CONTENT
    );
    let (status, err) = box_call(
        &sb,
        &token,
        Method::DELETE,
        &format!("/users/{}?force=perhaps", humans(&sb, "active")[0].id),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["context_info"]["errors"][0]["name"], "force");
}

#[tokio::test]
async fn undeletable_statuses_and_the_primary_admin_are_refused() {
    let sb = start(10, 9).await;
    let tenant = sb.box_tenant();
    let token = token(&sb).await;
    let users = humans(&sb, "active");
    for (user, status) in [
        (&users[0], "cannot_delete_edit"),
        (&users[1], "cannot_delete_edit_upload"),
    ] {
        tenant.set_status(&user.id, status);
        tenant.set_owned_files(&user.id, 0);
        for force in [false, true] {
            let (code, err) = box_delete(&sb, &token, &user.id, force).await;
            assert_eq!(code, StatusCode::FORBIDDEN, "{status} force={force}");
            assert_eq!(err["code"], "forbidden");
            assert!(err["message"].as_str().expect("message").contains(status));
        }
        assert!(tenant.has_user(&user.id));
        // A transfer of their content is fine.
        let (code, _) = box_transfer(&sb, &token, &user.id, &users[2].id).await;
        assert_eq!(code, StatusCode::OK);
    }
    let boss = admin(&sb);
    let (code, err) = box_delete(&sb, &token, &boss.id, true).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert_eq!(err["code"], "forbidden");
    assert!(tenant.has_user(&boss.id));
    assert!(tenant.deleted_users().is_empty());
    // An inactive user is deletable.
    tenant.set_status(&users[2].id, "inactive");
    assert_eq!(
        box_delete(&sb, &token, &users[2].id, true).await.0,
        StatusCode::NO_CONTENT
    );
    // `me` (the service account) is not an enterprise user.
    assert_eq!(
        box_delete(&sb, &token, "me", true).await.0,
        StatusCode::NOT_FOUND
    );
    // No token.
    let response = client()
        .delete(format!("{}/users/{}", sb.box_api_url(), users[3].id))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(tenant.has_user(&users[3].id));
}

// ---------------------------------------------------------------------------------------------
// Faults and stats

#[tokio::test]
async fn faults_and_stats_on_the_reclaim_routes() {
    let sb = start(20, 10).await;
    let tenant = sb.box_tenant();
    let stats = sb.stats();
    let token = token(&sb).await;
    let users = humans(&sb, "active");
    let (a, b) = (users[0].id.clone(), users[1].id.clone());

    sb.faults().push(FaultRule::new(
        Route::BoxTransfer,
        FaultKind::RateLimited {
            retry_after_secs: 7,
        },
    ));
    sb.faults().push(FaultRule::new(
        Route::BoxDeleteUser,
        FaultKind::ServerError { status: 503 },
    ));
    // A BoxUsers rule fires on GETs only.
    sb.faults()
        .push(FaultRule::new(Route::BoxUsers, FaultKind::ExpiredToken).forever());

    let response = client()
        .put(format!("{}/users/{a}/folders/0", sb.box_api_url()))
        .bearer_auth(&token)
        .json(&json!({"owned_by": {"id": b}}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "7");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["code"], "rate_limit_exceeded");
    assert!(
        tenant.transfers().is_empty(),
        "the faulted call did nothing"
    );

    let (status, body) = box_delete(&sb, &token, &a, true).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["code"], "unavailable");
    assert!(tenant.has_user(&a), "the faulted call did nothing");

    // Rules are used up; the BoxUsers rule does not touch them.
    let (status, _) = box_transfer(&sb, &token, &a, &b).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = box_delete(&sb, &token, &a, false).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        get(&sb, &token, &format!("/users/{b}")).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Slow and truncated work too.
    sb.faults()
        .push(FaultRule::new(Route::BoxTransfer, FaultKind::TruncatedBody));
    let response = client()
        .put(format!("{}/users/{b}/folders/0", sb.box_api_url()))
        .bearer_auth(&token)
        .json(&json!({"owned_by": {"id": users[2].id}}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.expect("body");
    assert!(serde_json::from_str::<Value>(&text).is_err(), "cut in half");
    assert_eq!(
        tenant.transfers().len(),
        2,
        "the truncated call was carried out"
    );

    assert_eq!(stats.calls(Route::BoxTransfer), 3);
    assert_eq!(stats.calls(Route::BoxDeleteUser), 2);
    assert_eq!(stats.calls(Route::BoxUsers), 1);
    let recorded = stats.requests();
    let delete = recorded
        .iter()
        .find(|r| r.route == Route::BoxDeleteUser && r.status == 204)
        .expect("recorded");
    assert_eq!(delete.method, "DELETE");
    assert_eq!(delete.path, format!("/box/2.0/users/{a}"));
    assert_eq!(delete.query, "notify=false");
    // Other methods on the users paths are not BoxUsers.
    let _ = box_call(&sb, &token, Method::POST, "/users", Some("{}".into())).await;
    assert_eq!(stats.calls(Route::BoxUsers), 1);
}

// ---------------------------------------------------------------------------------------------
// Control API

#[tokio::test]
async fn control_api_exposes_ownership_transfers_and_deletions() {
    let sb = start(10, 11).await;
    let token = token(&sb).await;
    let users = humans(&sb, "active");
    let (a, b) = (users[0].id.clone(), users[1].id.clone());
    let (status, body) = control(&sb, Method::GET, &format!("/box/users/{a}/items"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["items"], json!(sb.box_tenant().owned_items(&a)));
    let (status, _) = control(
        &sb,
        Method::PUT,
        &format!("/box/users/{a}/items"),
        Some(json!({"count": 2})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(sb.box_tenant().owned_items(&a).len(), 2);
    let (status, _) = control(
        &sb,
        Method::PUT,
        "/box/users/424242/items",
        Some(json!({"count": 2})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = control(&sb, Method::GET, "/box/users/424242/items", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = control(
        &sb,
        Method::PUT,
        &format!("/box/users/{a}/items"),
        Some(json!({"count": -1})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    box_transfer(&sb, &token, &a, &b).await;
    box_delete(&sb, &token, &a, false).await;
    let (_, transfers) = control(&sb, Method::GET, "/box/transfers", None).await;
    assert_eq!(transfers[0]["from_user_id"], a.as_str());
    assert_eq!(transfers[0]["to_user_id"], b.as_str());
    assert_eq!(transfers[0]["items_moved"], 2);
    let (_, deleted) = control(&sb, Method::GET, "/box/deleted-users", None).await;
    assert_eq!(deleted, json!([a]));
    let (_, stats) = control(&sb, Method::GET, "/stats", None).await;
    assert_eq!(stats["calls"]["box_transfer"], 1);
    assert_eq!(stats["calls"]["box_delete_user"], 1);
}
