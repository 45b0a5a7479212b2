//! Connecting a Dropbox credential slot: the OAuth authorization-code flow with PKCE and a
//! single-use `state`, started by an operator (seatctl) and finished by the oauth-callback
//! function. The state, verifier and pending record are domain concepts ([`crate::domain::connect`]).
use chrono::{DateTime, Utc};

pub use crate::domain::connect::{
    new_state, pkce_verifier, state_digest, PendingConnect, Slot, STATE_TTL,
};

use thiserror::Error;
use url::Url;

use crate::domain::{Profile, Provider, TaskKind, TaskRun};
use crate::http::{ApiStats, ProviderError};
use crate::ports::{ConnectRepo, ProfileRepo, Repos, RunRepo, StoreError};
use crate::providers::dropbox_api::{DropboxClient, DropboxCredentials, TeamInfo};
use crate::secrets::{SecretError, SecretStore};

#[derive(Debug, Error)]
pub enum ConnectError {
    #[error("the Dropbox admin declined the authorization ({0})")]
    Denied(String),
    /// Dropbox redirected back with an `error` other than `access_denied`.
    #[error("{}", authorize_error_sentence(code, description.as_deref()))]
    Authorize {
        code: String,
        description: Option<String>,
    },
    #[error("the request is missing its {0} parameter")]
    Missing(&'static str),
    #[error("this connect link is unknown, expired or already used; run `seatctl connect dropbox` again")]
    InvalidState,
    #[error("profile {0} does not exist")]
    UnknownProfile(String),
    #[error("profile {0} is not a Dropbox profile")]
    NotDropbox(String),
    #[error("the {slot} slot of profile {profile} has no Dropbox app yet: run `seatctl credentials set-dropbox-app {profile} --slot {slot}` first")]
    NoApp { profile: String, slot: &'static str },
    #[error("OAUTH_REDIRECT_URL is not set: pass --redirect-url (the stack's CallbackUrl output)")]
    NoRedirect,
    #[error("the reclaim slot must be authorized by a team admin: {0}")]
    NotAdmin(String),
    #[error("profile {profile} is pinned to Dropbox team {pinned}, but this authorization is for team {got} ({name}): authorize as an admin of team {pinned}, or add another profile for team {got}")]
    OtherTeam {
        profile: String,
        pinned: String,
        got: String,
        name: String,
    },
    #[error("Dropbox refused: {0}")]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

/// What an OAuth `error` other than `access_denied` means, and what to do.
fn authorize_error_sentence(code: &str, description: Option<&str>) -> String {
    let detail = description.map(|d| format!(": {d}")).unwrap_or_default();
    match code {
        "invalid_scope" => format!(
            "Dropbox refused the scopes this slot asks for (invalid_scope{detail}): the app's Permissions tab in the Dropbox App Console must include every scope of the slot (docs/connect.md); fix it, then run `seatctl connect dropbox` again"
        ),
        "unauthorized_client" | "invalid_client" => format!(
            "Dropbox does not accept this app for the authorization ({code}{detail}): check the app key stored with `seatctl credentials set-dropbox-app` and that the app is a team-linked (Dropbox Business) app, then run `seatctl connect dropbox` again"
        ),
        "server_error" | "temporarily_unavailable" => format!(
            "Dropbox could not complete the authorization right now ({code}{detail}); run `seatctl connect dropbox` again in a few minutes"
        ),
        _ => format!(
            "Dropbox ended the authorization with the error {code}{detail}; nothing was stored. Run `seatctl connect dropbox` again (docs/connect.md)"
        ),
    }
}

impl ConnectError {
    /// The HTTP status the callback answers with: the browser's request was bad (4xx), except
    /// when our own storage failed.
    pub fn status(&self) -> u16 {
        match self {
            ConnectError::Denied(_) => 403,
            ConnectError::Store(_) | ConnectError::Secret(SecretError::Aws { .. }) => 500,
            _ => 400,
        }
    }
}

/// A started connect: where to send the admin, and until when the link works.
#[derive(Debug)]
pub struct ConnectStart {
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// A finished connect, as the callback page shows it (no token).
#[derive(Debug, Clone)]
pub struct Connected {
    pub profile_id: String,
    pub slot: Slot,
    pub team: TeamInfo,
    pub admin_email: Option<String>,
}

/// The connect flow over any repositories (`wiring::ProductionConnect` is the deployed one).
pub struct ConnectService<R> {
    pub store: R,
    pub secrets: SecretStore,
    pub client: DropboxClient,
    pub redirect: Option<Url>,
}

impl<R: Repos> ConnectService<R> {
    async fn dropbox_profile(&self, id: &str) -> Result<Profile, ConnectError> {
        let p = self
            .store
            .profiles()
            .get(id)
            .await?
            .ok_or_else(|| ConnectError::UnknownProfile(id.to_owned()))?;
        if p.provider != Provider::Dropbox {
            return Err(ConnectError::NotDropbox(p.id));
        }
        Ok(p)
    }

    async fn slot_credentials(
        &self,
        profile: &str,
        slot: Slot,
    ) -> Result<DropboxCredentials, ConnectError> {
        let name = Profile::dropbox_secret_name(profile, slot.as_str());
        match self.secrets.dropbox_credentials(&name).await {
            Ok(c) => Ok(c),
            Err(SecretError::NotFound { .. }) | Err(SecretError::BadShape { .. }) => {
                Err(ConnectError::NoApp {
                    profile: profile.to_owned(),
                    slot: slot.as_str(),
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Starts a connect (operator side): a single-use state bound to profile and slot, and the
    /// authorize URL with the slot's scopes and the PKCE challenge.
    pub async fn start(
        &self,
        profile_id: &str,
        slot: Slot,
        started_by: &str,
        now: DateTime<Utc>,
    ) -> Result<ConnectStart, ConnectError> {
        let redirect = self.redirect.as_ref().ok_or(ConnectError::NoRedirect)?;
        let profile = self.dropbox_profile(profile_id).await?;
        let creds = self.slot_credentials(&profile.id, slot).await?;
        let state = new_state();
        let expires_at = now + STATE_TTL;
        self.store
            .connects()
            .put_pending(
                &state_digest(&state),
                &PendingConnect {
                    profile_id: profile.id.clone(),
                    slot,
                    created_at: now,
                    expires_at,
                    started_by: started_by.to_owned(),
                },
            )
            .await?;
        let verifier = pkce_verifier(&creds.app_secret, &state);
        let url = self
            .client
            .authorize_url(&creds.app_key, slot, redirect, &state, &verifier);
        Ok(ConnectStart { url, expires_at })
    }

    /// Finishes a connect (callback side). The state is consumed first, whatever happens next,
    /// so a callback URL works once. On success the slot's secret holds the refresh token, team
    /// and (reclaim slot) the authorizing admin, and an Application Access task run says so.
    /// `redirect` is the callback URL the browser came to, used when the deployment does not set
    /// `OAUTH_REDIRECT_URL` (it equals the redirect URI of the authorize request).
    pub async fn complete(
        &self,
        query: &std::collections::HashMap<String, String>,
        now: DateTime<Utc>,
        redirect: Option<&Url>,
    ) -> Result<Connected, ConnectError> {
        let state = query.get("state").filter(|s| !s.is_empty());
        if let Some(err) = query.get("error") {
            if let Some(state) = state {
                // burn the state: the link is spent either way
                self.store
                    .connects()
                    .consume_pending(&state_digest(state), now)
                    .await?;
            }
            if err != "access_denied" {
                return Err(ConnectError::Authorize {
                    code: err.clone(),
                    description: query.get("error_description").cloned(),
                });
            }
            let why = query
                .get("error_description")
                .map(|d| format!("{err}: {d}"))
                .unwrap_or_else(|| err.clone());
            return Err(ConnectError::Denied(why));
        }
        let state = state.ok_or(ConnectError::Missing("state"))?;
        let code = query
            .get("code")
            .filter(|c| !c.is_empty())
            .ok_or(ConnectError::Missing("code"))?;
        let pending = self
            .store
            .connects()
            .consume_pending(&state_digest(state), now)
            .await?
            .ok_or(ConnectError::InvalidState)?;
        let started = Utc::now();
        let stats = ApiStats::default();
        let result = self.exchange(&pending, state, code, redirect, &stats).await;
        // Application Access task run: the audit trail of who connected what, or why it failed.
        let mut task = TaskRun::start(
            &pending.profile_id,
            &crate::domain::task::new_run_id(started),
            TaskKind::ApplicationAccess,
            started,
        );
        task.counts.add_api(stats.snapshot());
        task.detail = Some(match &result {
            Ok(c) => format!(
                "connected the {} slot to team {} ({}){}",
                c.slot.as_str(),
                c.team.name,
                c.team.team_id,
                c.admin_email
                    .as_ref()
                    .map(|e| format!("; files of reclaimed users go to {e}"))
                    .unwrap_or_default()
            ),
            Err(_) => format!("connect of the {} slot failed", pending.slot.as_str()),
        });
        task.finish(Utc::now(), result.as_ref().err().map(ToString::to_string));
        if let Err(e) = self.store.runs().put_task_run(&task).await {
            tracing::warn!(error = %e, "could not record the connect's task run");
        }
        result
    }

    async fn exchange(
        &self,
        pending: &PendingConnect,
        state: &str,
        code: &str,
        redirect: Option<&Url>,
        stats: &ApiStats,
    ) -> Result<Connected, ConnectError> {
        let redirect = self
            .redirect
            .as_ref()
            .or(redirect)
            .ok_or(ConnectError::NoRedirect)?;
        let profile = self.dropbox_profile(&pending.profile_id).await?;
        let mut creds = self.slot_credentials(&profile.id, pending.slot).await?;
        let verifier = pkce_verifier(&creds.app_secret, state);
        let grant = self
            .client
            .exchange_code(
                &creds.app_key,
                &creds.app_secret,
                code,
                &verifier,
                redirect,
                stats,
            )
            .await?;
        let r = self
            .finish_connect(&profile, pending.slot, &mut creds, &grant, stats)
            .await;
        if r.is_err() {
            // the tokens will not be used: revoke them rather than leave a live grant behind
            if let Err(e) = self.client.revoke(&grant.access_token, stats).await {
                tracing::warn!(error = %e, "could not revoke the tokens of a failed connect");
            }
        }
        r
    }

    /// After the code exchange: the team (pinned on the profile at the first connect), the
    /// reclaim slot's admin, and the slot's tokens into Secrets Manager.
    async fn finish_connect(
        &self,
        profile: &Profile,
        slot: Slot,
        creds: &mut crate::secrets::DropboxCredentials,
        grant: &crate::providers::dropbox_api::CodeGrant,
        stats: &ApiStats,
    ) -> Result<Connected, ConnectError> {
        let team: TeamInfo = self
            .client
            .rpc_with_token(
                &grant.access_token,
                "team/get_info",
                &serde_json::Value::Null,
                stats,
            )
            .await?;
        self.pin_team(&profile.id, &team).await?;
        let pending_slot = slot;
        let (admin_id, admin_email) = match pending_slot {
            Slot::Sync => (None, None),
            Slot::Reclaim => {
                let admin = self
                    .client
                    .authenticated_admin(&grant.access_token, stats)
                    .await?;
                (
                    Some(admin.admin_profile.team_member_id),
                    Some(admin.admin_profile.email),
                )
            }
        };
        creds.refresh_token = Some(grant.refresh_token.clone());
        creds.team_id = Some(team.team_id.clone());
        creds.team_name = Some(team.name.clone());
        creds.admin_team_member_id = admin_id;
        creds.admin_email = admin_email.clone();
        creds.connected_at = Some(Utc::now());
        self.secrets
            .put_dropbox_credentials(
                &Profile::dropbox_secret_name(&profile.id, pending_slot.as_str()),
                creds,
            )
            .await?;
        Ok(Connected {
            profile_id: profile.id.clone(),
            slot: pending_slot,
            team,
            admin_email,
        })
    }

    /// Pins the profile to the team at its first connect; refuses another team afterwards.
    async fn pin_team(&self, profile_id: &str, team: &TeamInfo) -> Result<(), ConnectError> {
        self.store
            .profiles()
            .update(profile_id, |p| match &p.dropbox_team_id {
                Some(pinned) if pinned != &team.team_id => Err(ConnectError::OtherTeam {
                    profile: p.id.clone(),
                    pinned: pinned.clone(),
                    got: team.team_id.clone(),
                    name: team.name.clone(),
                }),
                _ => {
                    p.dropbox_team_id = Some(team.team_id.clone());
                    Ok(())
                }
            })
            .await?
            .ok_or_else(|| ConnectError::UnknownProfile(profile_id.to_owned()))
    }
}

#[cfg(test)]
mod authorize_error_tests {
    use super::*;

    #[test]
    fn an_oauth_error_other_than_a_refusal_says_what_happened_and_what_to_do() {
        let e = ConnectError::Authorize {
            code: "invalid_scope".into(),
            description: Some("unknown scope sessions.lis".into()),
        };
        let s = e.to_string();
        assert!(
            s.contains("invalid_scope: unknown scope sessions.lis"),
            "{s}"
        );
        assert!(s.contains("Permissions tab"), "{s}");
        assert!(!s.contains("declined"), "{s}");
        assert_eq!(e.status(), 400);
        let other = ConnectError::Authorize {
            code: "weird".into(),
            description: None,
        };
        assert!(other.to_string().contains("error weird"));
    }
}
