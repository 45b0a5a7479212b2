//! Dropbox RPC routes: members paging, profiles against the ground truth, get_info_v2, team
//! info counts, team_log windows, filters, paging, `has_more`, reset and bad cursors,
//! determinism, and a big team.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use chrono::Duration;
use common::*;
use provider_sandbox::{
    DropboxMember, DropboxMemberStatus, DropboxMembershipType, NewDropboxMember,
};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn ids(members: &[Value]) -> Vec<String> {
    members
        .iter()
        .map(|m| {
            m["profile"]["team_member_id"]
                .as_str()
                .expect("team_member_id")
                .to_string()
        })
        .collect()
}

fn listed(members: &[DropboxMember]) -> Vec<String> {
    members
        .iter()
        .filter(|m| !m.status.is_removed())
        .map(|m| m.team_member_id.clone())
        .collect()
}

#[tokio::test]
async fn members_are_paged_exactly_once() {
    let sb = dbx_start(2500, 1).await;
    let token = dbx_token(&sb).await;
    let truth = sb.dropbox_team().members();

    let (members, pages) = dbx_page_members(&sb, &token, &json!({})).await;
    let got = ids(&members);
    assert_eq!(got, listed(&truth), "every current member, once, in order");
    assert_eq!(pages, got.len().div_ceil(1000));
    assert!(members
        .iter()
        .all(|m| m["profile"]["status"][".tag"] != "removed"));

    // Small pages; the last one says has_more: false.
    let (members, pages) = dbx_page_members(&sb, &token, &json!({"limit": 7})).await;
    assert_eq!(ids(&members), got);
    assert_eq!(pages, got.len().div_ceil(7));

    // include_removed lists everyone, removed members with their RemovedStatus.
    let (all, _) = dbx_page_members(
        &sb,
        &token,
        &json!({"limit": 1000, "include_removed": true}),
    )
    .await;
    let everyone: Vec<String> = truth.iter().map(|m| m.team_member_id.clone()).collect();
    assert_eq!(ids(&all), everyone);
    let removed: Vec<&Value> = all
        .iter()
        .filter(|m| m["profile"]["status"][".tag"] == "removed")
        .collect();
    assert!(!removed.is_empty());
    for m in removed {
        let status = &m["profile"]["status"];
        assert!(status["is_recoverable"].is_boolean() && status["is_disconnected"].is_boolean());
    }
}

#[tokio::test]
async fn continue_past_the_end_and_exact_pages() {
    let sb = dbx_start(30, 2).await;
    let token = dbx_token(&sb).await;
    let n = listed(&sb.dropbox_team().members()).len();
    // A limit of exactly the listed count: one page, has_more false.
    let (status, page) = dbx_rpc(&sb, &token, "team/members/list_v2", &json!({"limit": n})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["members"].as_array().map(Vec::len), Some(n));
    assert_eq!(page["has_more"], false);
    // Its cursor continues to an empty page, still has_more false.
    let (status, next) = dbx_rpc(
        &sb,
        &token,
        "team/members/list/continue_v2",
        &json!({"cursor": page["cursor"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(next["members"], json!([]));
    assert_eq!(next["has_more"], false);
    // `null` is the all-defaults argument.
    let (status, page) = dbx_rpc(&sb, &token, "team/members/list_v2", &Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["members"].as_array().map(Vec::len), Some(n));
}

#[tokio::test]
async fn members_list_argument_errors() {
    let sb = dbx_start(10, 3).await;
    let token = dbx_token(&sb).await;
    for arg in [
        json!({"limit": 0}),
        json!({"limit": 1001}),
        json!({"limit": "10"}),
        json!({"limit": -1}),
        json!({"limit": null}),
        json!({"include_removed": "yes"}),
        json!({"cursor": "x"}),
        json!([]),
        json!("x"),
    ] {
        let (status, body) = dbx_rpc(&sb, &token, "team/members/list_v2", &arg).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{arg}");
        let text = body.as_str().expect("plain text");
        assert!(
            text.starts_with(
                "Error in call to API function \"team/members/list_v2\": request body:"
            ),
            "{text}"
        );
    }
    for arg in [
        json!({}),
        json!(null),
        json!({"cursor": 5}),
        json!({"cursor": "x", "limit": 5}),
    ] {
        let (status, _) = dbx_rpc(&sb, &token, "team/members/list/continue_v2", &arg).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{arg}");
    }
}

#[tokio::test]
async fn invalid_cursors() {
    let sb = dbx_start(20, 4).await;
    let token = dbx_token(&sb).await;
    let (_, events) = dbx_rpc(&sb, &token, "team_log/get_events", &json!({"limit": 1})).await;
    let (_, members) = dbx_rpc(&sb, &token, "team/members/list_v2", &json!({"limit": 1})).await;
    let mut tampered = members["cursor"].as_str().expect("cursor").to_string();
    tampered.replace_range(4..5, if &tampered[4..5] == "A" { "B" } else { "A" });
    for cursor in [
        json!("garbage"),
        json!(""),
        json!("ZtkX9_EHj3x7PMkVuFIhwKYXEpwpLwyxp9vMKomUhllil9q7eWiAu"),
        json!(tampered),
        events["cursor"].clone(),
    ] {
        let (status, body) = dbx_rpc(
            &sb,
            &token,
            "team/members/list/continue_v2",
            &json!({"cursor": cursor}),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{cursor}");
        assert_eq!(body["error"], json!({".tag": "invalid_cursor"}));
    }
    for cursor in [json!("garbage"), members["cursor"].clone()] {
        let (status, body) = dbx_rpc(
            &sb,
            &token,
            "team_log/get_events/continue",
            &json!({"cursor": cursor}),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{cursor}");
        assert_eq!(body["error"], json!({".tag": "bad_cursor"}));
    }
}

#[tokio::test]
async fn paging_is_stable_under_adds_and_removes() {
    let sb = dbx_start(300, 5).await;
    let team = sb.dropbox_team();
    let token = dbx_token(&sb).await;
    let before = listed(&team.members());
    let (status, first) =
        dbx_rpc(&sb, &token, "team/members/list_v2", &json!({"limit": 100})).await;
    assert_eq!(status, StatusCode::OK);
    let mut seen = ids(first["members"].as_array().expect("members"));
    // Remove one already seen and one not yet seen; add one.
    assert!(team.remove_member(&seen[3]));
    let later = before[250].clone();
    assert!(team.remove_member(&later));
    let added = team.add_member(NewDropboxMember::member(
        "late.joiner@example.com",
        "Late",
        "Joiner",
    ));
    let mut cursor = first["cursor"].clone();
    loop {
        let (status, page) = dbx_rpc(
            &sb,
            &token,
            "team/members/list/continue_v2",
            &json!({"cursor": cursor}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        seen.extend(ids(page["members"].as_array().expect("members")));
        if page["has_more"] == false {
            break;
        }
        cursor = page["cursor"].clone();
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "nobody twice");
    assert!(!seen.contains(&later), "removed before being reached");
    assert_eq!(seen.last(), Some(&added.team_member_id), "added at the end");
    assert_eq!(seen.len(), before.len());
}

#[tokio::test]
async fn profiles_match_the_ground_truth() {
    let sb = dbx_start(800, 6).await;
    let team = sb.dropbox_team();
    let token = dbx_token(&sb).await;
    let truth: HashMap<String, DropboxMember> = team
        .members()
        .into_iter()
        .map(|m| (m.team_member_id.clone(), m))
        .collect();
    let (members, _) = dbx_page_members(&sb, &token, &json!({"include_removed": true})).await;
    let mut statuses = HashSet::new();
    let mut saw_no_account = false;
    for info in &members {
        let p = &info["profile"];
        let m = &truth[p["team_member_id"].as_str().expect("id")];
        statuses.insert(m.status.tag());
        assert_eq!(p["email"], m.email);
        assert_eq!(p["status"][".tag"], m.status.tag());
        assert_eq!(p["membership_type"][".tag"], m.membership_type.tag());
        assert_eq!(p["name"]["display_name"], m.display_name());
        assert_eq!(p["name"]["given_name"], m.given_name);
        assert_eq!(p["name"]["surname"], m.surname);
        assert_eq!(
            p.get("account_id").and_then(Value::as_str),
            m.account_id.as_deref()
        );
        saw_no_account |= m.account_id.is_none();
        let time = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(dbx_time);
        let field = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
        assert_eq!(field("joined_on"), time(m.joined_on));
        match m.status {
            DropboxMemberStatus::Invited => {
                assert_eq!(field("invited_on"), time(m.invited_on));
                assert!(field("invited_on").is_some() && field("joined_on").is_none());
            }
            DropboxMemberStatus::Suspended => {
                assert_eq!(field("suspended_on"), time(m.suspended_on));
                assert!(field("suspended_on").is_some());
            }
            _ => assert!(field("invited_on").is_none() && field("suspended_on").is_none()),
        }
        match m.role {
            None => assert_eq!(info["roles"], json!([])),
            Some(role) => assert_eq!(
                info["roles"],
                json!([{"role_id": role.role_id(), "name": role.name(), "description": role.description()}])
            ),
        }
    }
    assert_eq!(statuses.len(), 4, "{statuses:?}");
    assert!(saw_no_account, "some invited members have no account yet");
    assert_eq!(members[0]["roles"][0]["name"], "Team admin");
}

#[tokio::test]
async fn get_info_v2_selectors() {
    let sb = dbx_start(200, 7).await;
    let team = sb.dropbox_team();
    let token = dbx_token(&sb).await;
    let members = team.members();
    let active = members
        .iter()
        .find(|m| m.external_id.is_some() && !m.status.is_removed())
        .expect("one");
    let removed = members
        .iter()
        .find(|m| m.status.is_removed())
        .expect("a removed member");
    let arg = json!({"members": [
        {".tag": "team_member_id", "team_member_id": active.team_member_id},
        {".tag": "email", "email": active.email.to_uppercase()},
        {".tag": "external_id", "external_id": active.external_id},
        {".tag": "team_member_id", "team_member_id": removed.team_member_id},
        {".tag": "team_member_id", "team_member_id": "dbmid:nobody"},
        {".tag": "email", "email": "nobody@example.com"},
    ]});
    let (status, body) = dbx_rpc(&sb, &token, "team/members/get_info_v2", &arg).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let infos = body["members_info"].as_array().expect("members_info");
    assert_eq!(infos.len(), 6);
    for info in &infos[..3] {
        assert_eq!(info[".tag"], "member_info");
        assert_eq!(info["profile"]["team_member_id"], active.team_member_id);
    }
    assert_eq!(infos[3]["profile"]["status"][".tag"], "removed");
    assert_eq!(
        infos[4],
        json!({".tag": "id_not_found", "id_not_found": "dbmid:nobody"})
    );
    assert_eq!(
        infos[5],
        json!({".tag": "id_not_found", "id_not_found": "nobody@example.com"})
    );
    for bad in [
        json!({"members": [{".tag": "nickname", "nickname": "x"}]}),
        json!({"members": [{"team_member_id": "x"}]}),
        json!({"members": [{".tag": "email"}]}),
        json!({"members": "x"}),
        json!({}),
    ] {
        let (status, _) = dbx_rpc(&sb, &token, "team/members/get_info_v2", &bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn team_info_counts_seats() {
    let sb = dbx_start(500, 8).await;
    let team = sb.dropbox_team();
    let token = dbx_token(&sb).await;
    let count = |f: &dyn Fn(&DropboxMember) -> bool| team.members().iter().filter(|m| f(m)).count();
    let (status, info) = dbx_rpc(&sb, &token, "team/get_info", &Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["name"], team.team_name());
    assert_eq!(info["team_id"], team.team_id());
    assert_eq!(info["num_licensed_users"], 550);
    let provisioned = count(&|m| {
        matches!(
            m.status,
            DropboxMemberStatus::Active | DropboxMemberStatus::Invited
        )
    });
    let used = count(&|m| {
        m.membership_type == DropboxMembershipType::Full
            && matches!(
                m.status,
                DropboxMemberStatus::Active | DropboxMemberStatus::Suspended
            )
    });
    assert_eq!(info["num_provisioned_users"], provisioned);
    assert_eq!(info["num_used_licenses"], used);
    team.set_num_licensed_users(600);
    team.add_member(NewDropboxMember::member("n@example.com", "N", "M"));
    let (_, info) = dbx_rpc(&sb, &token, "team/get_info", &Value::Null).await;
    assert_eq!(info["num_licensed_users"], 600);
    assert_eq!(info["num_provisioned_users"], provisioned + 1);
    assert_eq!(info["num_used_licenses"], used + 1);
}

fn timestamps(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["timestamp"].as_str().expect("timestamp").to_string())
        .collect()
}

#[tokio::test]
async fn team_log_window_filters_and_paging() {
    let sb = dbx_start(600, 9).await;
    let team = sb.dropbox_team();
    let token = dbx_token(&sb).await;
    let all = team.events();
    let truth: Vec<_> = all
        .iter()
        .filter(|e| e.category == "logins")
        .cloned()
        .collect();

    // Each content category holds exactly its events (one filter per read).
    for category in ["file_operations", "sharing"] {
        let (events, _) =
            dbx_page_events(&sb, &token, &json!({"limit": 1000, "category": category})).await;
        let expected: Vec<String> = all
            .iter()
            .filter(|e| e.category == category)
            .map(|e| dbx_time(e.timestamp))
            .collect();
        assert!(!expected.is_empty(), "{category}");
        assert_eq!(timestamps(&events), expected, "{category}");
        for e in &events {
            assert_eq!(e["event_category"][".tag"], category);
            assert_eq!(e["actor"][".tag"], "user");
        }
    }

    // Everything, by category, in pages of 250.
    let (events, pages) =
        dbx_page_events(&sb, &token, &json!({"limit": 250, "category": "logins"})).await;
    assert_eq!(events.len(), truth.len());
    assert_eq!(pages, truth.len().div_ceil(250));
    assert_eq!(
        timestamps(&events),
        truth
            .iter()
            .map(|e| dbx_time(e.timestamp))
            .collect::<Vec<_>>()
    );

    // login_success, as a bare string and as an object: the same events.
    let window_start = fixed_now() - Duration::days(90);
    let window_end = fixed_now() - Duration::days(10);
    let arg = |event_type: Value| {
        json!({
            "limit": 1000,
            "event_type": event_type,
            "time": {"start_time": dbx_time(window_start), "end_time": dbx_time(window_end)},
        })
    };
    let (bare, _) = dbx_page_events(&sb, &token, &arg(json!("login_success"))).await;
    let (tagged, _) = dbx_page_events(&sb, &token, &arg(json!({".tag": "login_success"}))).await;
    assert_eq!(bare, tagged);
    let expected: Vec<String> = truth
        .iter()
        .filter(|e| {
            e.event_type == "login_success"
                && e.timestamp >= window_start
                && e.timestamp < window_end
        })
        .map(|e| dbx_time(e.timestamp))
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(timestamps(&bare), expected);
    for e in &bare {
        assert_eq!(e["event_type"][".tag"], "login_success");
        assert_eq!(e["event_category"][".tag"], "logins");
        assert_eq!(
            e["actor"]["user"]["team_member_id"],
            e["context"]["team_member_id"]
        );
    }

    // Boundaries: start inclusive, end exclusive.
    let m = team
        .members()
        .into_iter()
        .find(|m| m.status.tag() == "active")
        .expect("member");
    let at = fixed_now() - Duration::days(1);
    team.add_login(&m.team_member_id, at);
    let one_second = Duration::seconds(1);
    for (start, end, found) in [
        (at, at + one_second, true),
        (at - one_second, at, false),
        (at, at, false),
    ] {
        let (events, _) = dbx_page_events(
            &sb,
            &token,
            &json!({
                "event_type": "login_success",
                "account_id": m.account_id,
                "time": {"start_time": dbx_time(start), "end_time": dbx_time(end)},
            }),
        )
        .await;
        assert_eq!(!events.is_empty(), found, "[{start}, {end})");
    }

    // What an activity sync derives: the latest login_success per member = the ground truth.
    let (all_logins, _) =
        dbx_page_events(&sb, &token, &json!({"event_type": "login_success"})).await;
    let mut last: HashMap<String, String> = HashMap::new();
    for e in &all_logins {
        let id = e["actor"]["user"]["team_member_id"]
            .as_str()
            .expect("member")
            .to_string();
        let t = e["timestamp"].as_str().expect("ts").to_string();
        let slot = last.entry(id).or_default();
        if t > *slot {
            *slot = t;
        }
    }
    let expected: HashMap<String, String> = team
        .last_logins()
        .into_iter()
        .map(|(k, v)| (k, dbx_time(v)))
        .collect();
    assert_eq!(last, expected);

    // account_id matches actor or context (sign-in-as sessions name the member as context).
    let signed_in_as = truth
        .iter()
        .find(|e| e.event_type == "sign_in_as_session_start")
        .expect("a sign-in-as session");
    let target = team
        .member(
            signed_in_as
                .context_team_member_id
                .as_deref()
                .expect("context"),
        )
        .expect("target");
    let (events, _) = dbx_page_events(&sb, &token, &json!({"account_id": target.account_id})).await;
    assert!(events
        .iter()
        .any(|e| e["event_type"][".tag"] == "sign_in_as_session_start"));
    for e in &events {
        let names_target = e["context"]["team_member_id"] == target.team_member_id
            || e["actor"]["user"]["team_member_id"] == target.team_member_id;
        assert!(names_target, "{e}");
    }
    // A category with nothing in it.
    let (events, _) = dbx_page_events(&sb, &token, &json!({"category": {".tag": "groups"}})).await;
    assert!(events.is_empty());
}

#[tokio::test]
async fn team_log_errors() {
    let sb = dbx_start(50, 10).await;
    let token = dbx_token(&sb).await;
    let route = "team_log/get_events";
    let conflict = [
        (
            json!({"category": "logins", "event_type": "login_success"}),
            "invalid_filters",
        ),
        (
            json!({"time": {"start_time": "2025-05-02T00:00:00Z", "end_time": "2025-05-01T00:00:00Z"}}),
            "invalid_time_range",
        ),
        (
            json!({"account_id": format!("dbid:{}", "A".repeat(35))}),
            "account_id_not_found",
        ),
    ];
    for (arg, tag) in conflict {
        let (status, body) = dbx_rpc(&sb, &token, route, &arg).await;
        assert_eq!(status, StatusCode::CONFLICT, "{arg}");
        assert_eq!(body["error"], json!({".tag": tag}));
    }
    for arg in [
        json!({"event_type": "login_sucess"}),
        json!({"event_type": "other"}),
        json!({"event_type": {".tag": "login_success", "extra": 1}}),
        json!({"event_type": 5}),
        json!({"category": "nope"}),
        json!({"time": {"start_time": "2025-05-01"}}),
        json!({"time": {"start_time": "2025-05-01T00:00:00+00:00"}}),
        json!({"time": {"begin": "2025-05-01T00:00:00Z"}}),
        json!({"account_id": "dbid:short"}),
        json!({"limit": 0}),
        json!({"limit": 1001}),
        json!({"cursor": "x"}),
    ] {
        let (status, body) = dbx_rpc(&sb, &token, route, &arg).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{arg}: {body}");
    }
    // Nullable fields may be null.
    let (status, _) = dbx_rpc(
        &sb,
        &token,
        route,
        &json!({"account_id": null, "time": null, "category": null, "event_type": null}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn has_more_may_be_true_with_no_events() {
    let sb = dbx_start(400, 11).await;
    let team = sb.dropbox_team();
    let token = dbx_token(&sb).await;
    let truth = team.events();
    let rare: Vec<String> = truth
        .iter()
        .filter(|e| e.event_type == "sign_in_as_session_end")
        .map(|e| dbx_time(e.timestamp))
        .collect();
    assert!(!rare.is_empty());
    team.set_events_scan_budget(50);
    let arg = json!({"event_type": "sign_in_as_session_end", "limit": 1000});
    let (status, first) = dbx_rpc(&sb, &token, "team_log/get_events", &arg).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["has_more"], true);
    let (events, pages) = dbx_page_events(&sb, &token, &arg).await;
    assert_eq!(timestamps(&events), rare, "all of them, in the end");
    assert_eq!(pages, truth.len().div_ceil(50));

    // Polling without end_time: caught up means has_more false; a new event shows up on the
    // same cursor later.
    team.set_events_scan_budget(provider_sandbox::DEFAULT_EVENTS_SCAN_BUDGET);
    let (_, mut page) = dbx_rpc(
        &sb,
        &token,
        "team_log/get_events",
        &json!({"event_type": "login_success"}),
    )
    .await;
    while page["has_more"] == true {
        page = dbx_rpc(
            &sb,
            &token,
            "team_log/get_events/continue",
            &json!({"cursor": page["cursor"]}),
        )
        .await
        .1;
    }
    let cursor = page["cursor"].clone();
    let (_, idle) = dbx_rpc(
        &sb,
        &token,
        "team_log/get_events/continue",
        &json!({"cursor": cursor}),
    )
    .await;
    assert_eq!(idle["events"], json!([]));
    assert_eq!(idle["has_more"], false);
    let m = &team.members()[0];
    let at = fixed_now() - Duration::minutes(1) + Duration::seconds(30);
    team.add_login(&m.team_member_id, at);
    let (_, fresh) = dbx_rpc(
        &sb,
        &token,
        "team_log/get_events/continue",
        &json!({"cursor": idle["cursor"]}),
    )
    .await;
    assert_eq!(
        timestamps(fresh["events"].as_array().expect("events")),
        [dbx_time(at)]
    );
}

#[tokio::test]
async fn reset_hook_and_resume() {
    let sb = dbx_start(300, 12).await;
    let team = sb.dropbox_team();
    let token = dbx_token(&sb).await;
    let arg = json!({"event_type": "login_success", "limit": 100});
    let (_, first) = dbx_rpc(&sb, &token, "team_log/get_events", &arg).await;
    assert_eq!(first["has_more"], true);
    let last_seen = first["events"][99]["timestamp"]
        .as_str()
        .expect("ts")
        .to_string();
    team.reset_next_events_continue();
    let (status, body) = dbx_rpc(
        &sb,
        &token,
        "team_log/get_events/continue",
        &json!({"cursor": first["cursor"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], json!({".tag": "reset", "reset": last_seen}));
    assert!(body["error_summary"]
        .as_str()
        .is_some_and(|s| s.starts_with("reset/")));
    // Only once: the same cursor continues normally afterwards.
    let (status, _) = dbx_rpc(
        &sb,
        &token,
        "team_log/get_events/continue",
        &json!({"cursor": first["cursor"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Resuming from the reset timestamp misses nothing.
    let (resumed, _) = dbx_page_events(
        &sb,
        &token,
        &json!({"event_type": "login_success", "time": {"start_time": last_seen}}),
    )
    .await;
    let (all, _) = dbx_page_events(&sb, &token, &json!({"event_type": "login_success"})).await;
    let mut combined = timestamps(first["events"].as_array().expect("events"));
    combined.extend(timestamps(&resumed));
    combined.dedup();
    let mut expected = timestamps(&all);
    expected.dedup();
    assert_eq!(combined, expected);
}

#[tokio::test]
async fn same_seed_same_responses() {
    let a = dbx_start(700, 13).await;
    let b = dbx_start(700, 13).await;
    let (ta, tb) = (dbx_token(&a).await, dbx_token(&b).await);
    for (route, arg) in [
        (
            "team/members/list_v2",
            json!({"limit": 300, "include_removed": true}),
        ),
        ("team_log/get_events", json!({"limit": 500})),
        ("team/get_info", Value::Null),
    ] {
        let (_, pa) = dbx_rpc(&a, &ta, route, &arg).await;
        let (_, pb) = dbx_rpc(&b, &tb, route, &arg).await;
        assert_eq!(pa, pb, "{route}");
    }
    assert_eq!(a.dropbox_team().members(), b.dropbox_team().members());
    assert_eq!(a.dropbox_team().events(), b.dropbox_team().events());
    let c = dbx_start(700, 14).await;
    assert_ne!(a.dropbox_team().members(), c.dropbox_team().members());
}

#[tokio::test]
async fn big_team_pages_quickly() {
    // 100k members generate in ~1.2 s unoptimized (see the unit test); paging 100k through
    // debug-built JSON on both sides takes minutes, so this pages 20k.
    let started = Instant::now();
    let sb = dbx_start(20_000, 15).await;
    let generated = started.elapsed();
    let token = dbx_token(&sb).await;
    let team = sb.dropbox_team();
    let started = Instant::now();
    let (members, pages) = dbx_page_members_checked(&sb, &token, &json!({}), false).await;
    assert_eq!(ids(&members), listed(&team.members()));
    assert_eq!(pages, members.len().div_ceil(1000));
    let since = fixed_now() - Duration::days(30);
    let arg = json!({"event_type": "login_success", "time": {"start_time": dbx_time(since)}});
    let (logins, _) = dbx_page_events_checked(&sb, &token, &arg, false).await;
    let expected = team
        .events()
        .iter()
        .filter(|e| e.event_type == "login_success" && e.timestamp >= since)
        .count();
    assert_eq!(logins.len(), expected);
    let took = started.elapsed();
    eprintln!(
        "20k members generated in {generated:?}; {} members and {} logins paged in {took:?}",
        members.len(),
        logins.len()
    );
    assert!(took < std::time::Duration::from_secs(60), "{took:?}");
}

#[tokio::test]
async fn device_sessions_page_by_cursor_and_name_their_last_activity() {
    let sb = dbx_start(600, 9).await;
    let team = sb.dropbox_team();
    let token = dbx_token(&sb).await;
    let listed: HashSet<String> = team
        .members()
        .into_iter()
        .filter(|m| m.status.tag() != "removed")
        .map(|m| m.team_member_id)
        .collect();
    let truth: HashMap<String, String> = team
        .sessions()
        .into_iter()
        .filter(|s| listed.contains(&s.team_member_id))
        .map(|s| (s.session_id, dbx_time(s.updated)))
        .collect();
    assert!(truth.len() > 50, "{}", truth.len());

    // Every session once, across cursor pages (each page checked against the spec's shapes).
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut arg = json!({});
    let mut pages = 0;
    loop {
        let (status, page) = dbx_rpc(&sb, &token, "team/devices/list_members_devices", &arg).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        pages += 1;
        for m in page["devices"].as_array().expect("devices") {
            for kind in ["web_sessions", "desktop_clients", "mobile_clients"] {
                for s in m[kind].as_array().expect(kind) {
                    let id = s["session_id"].as_str().expect("id").to_string();
                    let updated = s["updated"].as_str().expect("updated").to_string();
                    assert!(seen.insert(id, updated).is_none(), "listed twice");
                }
            }
        }
        if page["has_more"] != true {
            break;
        }
        arg = json!({"cursor": page["cursor"]});
    }
    assert!(pages > 1);
    assert_eq!(seen, truth);

    // Desktop clients only: no web or mobile sessions.
    let (_, page) = dbx_rpc(
        &sb,
        &token,
        "team/devices/list_members_devices",
        &json!({"include_web_sessions": false, "include_mobile_clients": false}),
    )
    .await;
    for m in page["devices"].as_array().expect("devices") {
        assert!(m["web_sessions"].as_array().expect("web").is_empty());
        assert!(!m["desktop_clients"].as_array().expect("desktop").is_empty());
    }

    // One member's sessions; an unknown member is `member_not_found`.
    let with = team.sessions().into_iter().next().expect("a session");
    let (status, one) = dbx_rpc(
        &sb,
        &token,
        "team/devices/list_member_devices",
        &json!({"team_member_id": with.team_member_id}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let all: Vec<&Value> = [
        "active_web_sessions",
        "desktop_client_sessions",
        "mobile_client_sessions",
    ]
    .iter()
    .flat_map(|k| one[*k].as_array().expect("list").iter())
    .collect();
    assert!(all
        .iter()
        .any(|s| s["session_id"] == with.session_id.as_str()));
    let (status, err) = dbx_rpc(
        &sb,
        &token,
        "team/devices/list_member_devices",
        &json!({"team_member_id": "dbmid:nobody"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(err["error"][".tag"], "member_not_found");

    // A forged cursor is a `reset`.
    let (status, err) = dbx_rpc(
        &sb,
        &token,
        "team/devices/list_members_devices",
        &json!({"cursor": "AAAA"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(err["error"][".tag"], "reset");
}

#[test]
fn generated_teams_have_desktop_only_and_content_only_members() {
    let team = provider_sandbox::DropboxTeamHandle::generate(
        &provider_sandbox::DropboxTeamSpec::new(1000, 7),
        std::time::Duration::from_secs(3600),
    );
    let now = team.now();
    let logins = team.last_logins();
    let activity = team.last_activities();
    let recent = |t: Option<&chrono::DateTime<chrono::Utc>>| {
        t.is_some_and(|t| now - *t < Duration::days(60))
    };
    let active_without_login = team
        .members()
        .into_iter()
        .filter(|m| m.status.tag() == "active")
        .filter(|m| {
            !recent(logins.get(&m.team_member_id)) && recent(activity.get(&m.team_member_id))
        })
        .count();
    assert!(active_without_login > 20, "{active_without_login}");
    let just_beyond = activity
        .values()
        .filter(|t| (91..=120).contains(&(now - **t).num_days()))
        .count();
    assert!(just_beyond > 5, "{just_beyond}");
}
