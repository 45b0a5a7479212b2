//! Every Dropbox answer has the Stone spec's shape. The type table (`stone_types.json`, extracted
//! from the .stone files with the official Stone parser) and the spec's rendered examples
//! (`stone_examples.json`) are copied into `tests/fixtures/dropbox/` (MIT, see the LICENSE
//! there), so this needs nothing outside the project. The helpers in `common` check every RPC
//! answer of every test against the route's result / error type; this file checks the checker
//! and covers every shape the sandbox can emit.

mod common;

use std::collections::BTreeSet;

use common::stone::{examples, stone, Mode};
use common::*;
use provider_sandbox::DropboxRole;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The `login_success` event PROVIDER-APIS.md 2.6 assembles from the spec's types and examples
/// (Dropbox publishes no full example of one).
const ASSEMBLED_LOGIN_SUCCESS: &str = r#"{"timestamp": "2017-01-25T15:51:30Z", "event_category": {".tag": "logins"},
 "actor": {".tag": "user", "user": {".tag": "team_member", "account_id": "dbid:AAHgR8xsQP48a5DQUGPo-Vxsrjd0OByVmho",
           "display_name": "John Smith", "email": "john_smith@acmecorp.com", "team_member_id": "dbmid:AAFoi-tmvRuQR0jU-3fN4B-9nZo6nHcDO9Q"}},
 "origin": {"access_method": {".tag": "end_user", "end_user": {".tag": "web", "session_id": "dbwsid:123"}},
            "geo_location": {"ip_address": "45.56.78.100", "city": "San Francisco", "region": "California", "country": "US"}},
 "involve_non_team_member": false,
 "context": {".tag": "team_member", "account_id": "dbid:AAHgR8xsQP48a5DQUGPo-Vxsrjd0OByVmho", "team_member_id": "dbmid:AAFoi-tmvRuQR0jU-3fN4B-9nZo6nHcDO9Q", "display_name": "John Smith", "email": "john_smith@acmecorp.com"},
 "event_type": {".tag": "login_success", "description": "(logins) Signed in"},
 "details": {".tag": "login_success_details", "is_emm_managed": false, "login_method": {".tag": "password"}}}"#;

fn example(name: &str, label: &str) -> Value {
    examples()["examples"][name][label].clone()
}

#[test]
fn the_checker_accepts_every_spec_example_and_catches_mistakes() {
    let st = stone();
    let mut checked = 0;
    for (name, labels) in examples()["examples"].as_object().expect("examples") {
        if !st.has_type(name) {
            continue;
        }
        for (label, value) in labels.as_object().expect("labels") {
            // Catch-all examples (`other`) are what a client may receive, not what a server sends.
            if value.get(".tag") == Some(&json!("other")) {
                continue;
            }
            let errs = st.check_named(name, value, Mode::Response);
            assert!(errs.is_empty(), "{name}.{label}: {errs:#?}");
            checked += 1;
        }
    }
    assert!(checked >= 60, "checked {checked} examples");

    let profile = example("team.TeamMemberProfile", "default");
    let mutations: Vec<(&str, Value)> = vec![
        ("unknown key", {
            let mut p = profile.clone();
            p["is_admin"] = true.into();
            p
        }),
        ("missing required", {
            let mut p = profile.clone();
            p.as_object_mut().expect("object").remove("email_verified");
            p
        }),
        ("wrong tag", {
            let mut p = profile.clone();
            p["status"] = json!({".tag": "deleted"});
            p
        }),
        ("bare string in a response", {
            let mut p = profile.clone();
            p["status"] = json!("active");
            p
        }),
        ("void member with a value", {
            let mut p = profile.clone();
            p["status"] = json!({".tag": "active", "since": 1});
            p
        }),
        ("removed without its fields", {
            let mut p = profile.clone();
            p["status"] = json!({".tag": "removed"});
            p
        }),
        ("account id of the wrong length", {
            let mut p = profile.clone();
            p["account_id"] = "dbid:short".into();
            p
        }),
        ("timestamp with fractions", {
            let mut p = profile.clone();
            p["joined_on"] = "2015-05-12T15:50:38.000Z".into();
            p
        }),
        ("wrong type", {
            let mut p = profile.clone();
            p["groups"] = "g:1".into();
            p
        }),
    ];
    for (what, value) in mutations {
        assert!(
            !st.check_named("team.TeamMemberProfile", &value, Mode::Response)
                .is_empty(),
            "{what} was not caught"
        );
    }
    // Nested unions: `end_user` is a struct with subtypes, so its value is nested under its tag.
    let mut event = example("team_log.TeamEvent", "default");
    event["details"] =
        json!({".tag": "login_success_details", "login_method": {".tag": "password"}});
    event["event_type"] = json!({".tag": "login_success", "description": "(logins) Signed in"});
    assert!(st
        .check_named("team_log.TeamEvent", &event, Mode::Response)
        .is_empty());
    event["origin"]["access_method"] = json!({".tag": "end_user", ".tag2": 1, "session_id": "x"});
    assert!(!st
        .check_named("team_log.TeamEvent", &event, Mode::Response)
        .is_empty());
    // Bare strings are fine in arguments.
    assert!(st
        .check_named(
            "team_log.GetTeamEventsArg",
            &json!({"event_type": "login_success", "category": "logins"}),
            Mode::Arg
        )
        .is_empty());
}

#[test]
fn the_route_table_agrees_with_the_spec_examples_routes() {
    let st = stone();
    let ex_routes = examples()["routes"].as_object().expect("routes");
    let served: BTreeSet<&str> = st.routes().keys().map(String::as_str).collect();
    assert_eq!(
        served,
        [
            "team/get_info",
            "team/token/get_authenticated_admin",
            "team/members/list_v2",
            "team/members/list/continue_v2",
            "team/members/get_info_v2",
            "team/members/remove",
            "team/members/remove/job_status/get",
            "team/members/suspend",
            "team/members/unsuspend",
            "team/members/recover",
            "team_log/get_events",
            "team_log/get_events/continue",
            "team/devices/list_members_devices",
            "team/devices/list_member_devices",
        ]
        .into()
    );
    let local = |t: &Value| match t.get("ref").and_then(Value::as_str) {
        Some(r) => r.rsplit('.').next().expect("name").to_string(),
        None => t["prim"].as_str().expect("prim").to_string(),
    };
    for (name, route) in st.routes() {
        let (_, ex) = ex_routes
            .iter()
            .find(|(_, r)| r["url"] == format!("https://api.dropboxapi.com/2/{name}"))
            .unwrap_or_else(|| panic!("{name} not in the examples' routes"));
        assert_eq!(route["url"], format!("/2/{name}"));
        assert_eq!(route["scope"], ex["attrs"]["scope"], "{name}");
        assert_eq!(ex["attrs"]["auth"], "team", "{name}");
        for part in ["arg", "result", "error"] {
            assert_eq!(
                local(&route[part]),
                ex[part].as_str().expect(part),
                "{name} {part}"
            );
        }
    }
}

/// A sync-app token narrowed (by a refresh `scope`) to everything but `without`.
async fn token_without(sb: &provider_sandbox::Sandbox, without: &str) -> String {
    let (_, refresh) = dbx_connect(sb, App::Sync).await;
    let (key, secret) = App::Sync.creds(sb);
    let scopes: Vec<&str> = App::Sync
        .scopes()
        .split(' ')
        .filter(|s| *s != without)
        .collect();
    let (status, body) = dbx_token_form(
        sb,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", &key),
            ("client_secret", &secret),
            ("scope", &scopes.join(" ")),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().expect("token").to_string()
}

#[tokio::test]
async fn required_scope_is_the_routes_attrs_scope() {
    let sb = dbx_start(10, 1).await;
    for (name, route) in stone().routes() {
        let scope = route["scope"].as_str().expect("scope");
        let token = token_without(&sb, scope).await;
        let (status, body) = dbx_rpc(&sb, &token, name, &Value::Null).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(
            body["error"],
            json!({".tag": "missing_scope", "required_scope": scope}),
            "{name}"
        );
    }
}

#[tokio::test]
async fn every_shape_the_sandbox_emits_is_the_specs() {
    let sb = dbx_start(1500, 2).await;
    let team = sb.dropbox_team();
    // Every role and status, a limited member, secondary emails, external ids, photos, groups.
    let plain = team
        .members()
        .into_iter()
        .filter(|m| m.role.is_none() && m.status.tag() == "active")
        .map(|m| m.team_member_id)
        .collect::<Vec<_>>();
    for (id, role) in plain.iter().zip([
        DropboxRole::UserManagementAdmin,
        DropboxRole::SupportAdmin,
        DropboxRole::BillingAdmin,
    ]) {
        team.set_role(id, Some(role));
    }
    let token = dbx_token(&sb).await;
    let (members, _) = dbx_page_members(&sb, &token, &json!({"include_removed": true})).await;
    let profile_fields = stone().fields("team.TeamMemberProfile");
    let mut seen_keys = BTreeSet::new();
    let mut seen_status = BTreeSet::new();
    let mut seen_roles = BTreeSet::new();
    for m in &members {
        assert_eq!(key_set(m), ["profile", "roles"].map(String::from).into());
        seen_keys.extend(key_set(&m["profile"]));
        seen_status.insert(
            m["profile"]["status"][".tag"]
                .as_str()
                .expect("tag")
                .to_string(),
        );
        for r in m["roles"].as_array().expect("roles") {
            seen_roles.insert(r["name"].as_str().expect("name").to_string());
        }
    }
    assert!(seen_keys.is_subset(&profile_fields));
    let never: BTreeSet<String> = ["persistent_id", "is_directory_restricted"]
        .map(String::from)
        .into();
    assert_eq!(
        profile_fields
            .difference(&seen_keys)
            .cloned()
            .collect::<BTreeSet<_>>(),
        never,
        "every other TeamMemberProfile field shows up"
    );
    assert_eq!(seen_status.len(), 4);
    let example_roles: BTreeSet<String> = examples()["examples"]["team.TeamMemberRole"]
        .as_object()
        .expect("roles")
        .values()
        .map(|r| r["name"].as_str().expect("name").to_string())
        .collect();
    assert_eq!(seen_roles, example_roles);
    // The roles' ids and descriptions are the examples'.
    for r in examples()["examples"]["team.TeamMemberRole"]
        .as_object()
        .expect("roles")
        .values()
    {
        assert!(
            members
                .iter()
                .any(|m| m["roles"].as_array().is_some_and(|rs| rs.contains(r))),
            "{r}"
        );
    }

    // Events: every kind the sandbox records, including anonymous failed sign-ins.
    let (events, _) = dbx_page_events(&sb, &token, &json!({"category": "logins"})).await;
    let kinds: BTreeSet<String> = events
        .iter()
        .map(|e| e["event_type"][".tag"].as_str().expect("tag").to_string())
        .collect();
    assert_eq!(
        kinds,
        [
            "login_fail",
            "login_success",
            "logout",
            "sign_in_as_session_end",
            "sign_in_as_session_start"
        ]
        .map(String::from)
        .into()
    );
    let login_types: BTreeSet<String> = stone().login_event_types().into_iter().collect();
    assert!(kinds.is_subset(&login_types));
    assert!(events.iter().any(|e| e["actor"][".tag"] == "anonymous"));
    assert!(events.iter().any(|e| e["actor"][".tag"] == "admin"));
    let assembled: Value = serde_json::from_str(ASSEMBLED_LOGIN_SUCCESS).expect("json");
    for e in events
        .iter()
        .filter(|e| e["event_type"][".tag"] == "login_success")
    {
        assert_eq!(key_set(e), key_set(&assembled));
        assert_eq!(
            key_set(&e["actor"]["user"]),
            key_set(&assembled["actor"]["user"])
        );
        assert_eq!(key_set(&e["context"]), key_set(&assembled["context"]));
        assert_eq!(key_set(&e["details"]), key_set(&assembled["details"]));
        assert_eq!(
            key_set(&e["origin"]["geo_location"]),
            key_set(&assembled["origin"]["geo_location"])
        );
        assert_eq!(e["event_type"], assembled["event_type"]);
    }
    let assembled_errs = stone().check_named("team_log.TeamEvent", &assembled, Mode::Response);
    assert!(assembled_errs.is_empty(), "{assembled_errs:?}");

    // team/get_info: the example's keys and policies.
    let (_, info) = dbx_rpc(&sb, &token, "team/get_info", &Value::Null).await;
    let ex = example("team.TeamGetInfoResult", "default");
    assert_eq!(key_set(&info), key_set(&ex));
    assert_eq!(info["policies"], ex["policies"]);
    // The admin's profile has the example's keys (minus what this admin lacks).
    let (_, admin) = dbx_rpc(
        &sb,
        &token,
        "team/token/get_authenticated_admin",
        &Value::Null,
    )
    .await;
    let ex = example("team.TokenGetAuthenticatedAdminResult", "default");
    assert_eq!(key_set(&admin), key_set(&ex));
    assert!(key_set(&admin["admin_profile"]).is_subset(&key_set(&ex["admin_profile"])));
    // Page keys: the examples'.
    let (_, page) = dbx_rpc(&sb, &token, "team/members/list_v2", &json!({"limit": 1})).await;
    assert_eq!(
        key_set(&page),
        key_set(&example("team.MembersListV2Result", "default"))
    );
    let (_, page) = dbx_rpc(&sb, &token, "team_log/get_events", &json!({"limit": 1})).await;
    assert_eq!(
        key_set(&page),
        key_set(&example("team_log.GetTeamEventsResult", "default"))
    );
}

#[tokio::test]
async fn every_filter_the_spec_names_is_accepted() {
    let sb = dbx_start(30, 3).await;
    let token = dbx_token(&sb).await;
    let st = stone();
    for (field, union) in [
        ("event_type", "team_log.EventTypeArg"),
        ("category", "team_log.EventCategory"),
    ] {
        let members = st.members(union);
        assert!(members.len() > if field == "category" { 20 } else { 400 });
        for m in members.iter().filter(|m| *m != "other") {
            let (status, body) = dbx_rpc(
                &sb,
                &token,
                "team_log/get_events",
                &json!({field: m, "limit": 1}),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{field}={m}: {body}");
        }
        let (status, _) =
            dbx_rpc(&sb, &token, "team_log/get_events", &json!({field: "other"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn the_spec_examples_arguments_are_accepted() {
    let sb = dbx_start(30, 4).await;
    let token = dbx_token(&sb).await;
    let arg = |name: &str| example(name, "default");
    // Each example argument is itself valid for its type.
    for name in [
        "team.MembersListArg",
        "team.MembersListContinueArg",
        "team.MembersGetInfoV2Arg",
        "team_log.GetTeamEventsArg",
        "team_log.GetTeamEventsContinueArg",
    ] {
        assert!(
            stone().check_named(name, &arg(name), Mode::Arg).is_empty(),
            "{name}"
        );
    }
    let (status, page) = dbx_rpc(
        &sb,
        &token,
        "team/members/list_v2",
        &arg("team.MembersListArg"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let listed = sb
        .dropbox_team()
        .members()
        .iter()
        .filter(|m| !m.status.is_removed())
        .count();
    assert_eq!(page["members"].as_array().map(Vec::len), Some(listed));
    let (status, body) = dbx_rpc(
        &sb,
        &token,
        "team/members/list/continue_v2",
        &arg("team.MembersListContinueArg"),
    )
    .await;
    assert_eq!(
        (status, body["error"][".tag"].clone()),
        (StatusCode::CONFLICT, json!("invalid_cursor"))
    );
    let (status, body) = dbx_rpc(
        &sb,
        &token,
        "team/members/get_info_v2",
        &arg("team.MembersGetInfoV2Arg"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["members_info"][0],
        json!({".tag": "id_not_found", "id_not_found": "dbmid:efgh5678"})
    );
    let (status, body) = dbx_rpc(
        &sb,
        &token,
        "team_log/get_events",
        &arg("team_log.GetTeamEventsArg"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["events"], json!([]), "no groups events");
    let (status, body) = dbx_rpc(
        &sb,
        &token,
        "team_log/get_events/continue",
        &arg("team_log.GetTeamEventsContinueArg"),
    )
    .await;
    assert_eq!(
        (status, body["error"][".tag"].clone()),
        (StatusCode::CONFLICT, json!("bad_cursor"))
    );
}
