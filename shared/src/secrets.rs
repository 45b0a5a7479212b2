//! Provider credentials in Secrets Manager. Values are read into `SecretString`s and never logged;
//! errors name the secret, never its content.
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use aws_sdk_secretsmanager::Client;
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use thiserror::Error;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Deserialize;

/// What a Box profile's secret holds (Secrets Manager JSON). Debug never shows the secret.
#[derive(Debug, Clone, Deserialize)]
pub struct BoxCredentials {
    pub client_id: String,
    pub client_secret: SecretString,
    pub enterprise_id: String,
}

/// What a Dropbox credential slot's secret holds (Secrets Manager JSON). The app key and secret
/// are set by the operator; the callback adds the refresh token, team and admin after a connect.
#[derive(Debug, Clone, Deserialize)]
pub struct DropboxCredentials {
    pub app_key: String,
    pub app_secret: SecretString,
    #[serde(default)]
    pub refresh_token: Option<SecretString>,
    #[serde(default)]
    pub team_id: Option<String>,
    #[serde(default)]
    pub team_name: Option<String>,
    /// Reclaim slot: the admin who authorized it (team_member_id); receives reclaimed files.
    #[serde(default)]
    pub admin_team_member_id: Option<String>,
    #[serde(default)]
    pub admin_email: Option<String>,
    #[serde(default)]
    pub connected_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Error)]
pub enum SecretError {
    #[error("secret {name} was not found in Secrets Manager")]
    NotFound { name: String },
    #[error("secret {name} is not valid JSON of the expected shape (field names: {expected})")]
    BadShape {
        name: String,
        expected: &'static str,
    },
    #[error("Secrets Manager call for {name} failed: {message}")]
    Aws { name: String, message: String },
}

#[derive(Debug, Clone)]
pub struct SecretStore {
    client: Client,
}

impl SecretStore {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    pub async fn box_credentials(&self, name: &str) -> Result<BoxCredentials, SecretError> {
        self.get_json(name, "client_id, client_secret, enterprise_id")
            .await
    }

    /// Creates or updates a profile's Box credentials secret.
    pub async fn put_box_credentials(
        &self,
        name: &str,
        creds: &BoxCredentials,
    ) -> Result<(), SecretError> {
        let body = serde_json::json!({
            "client_id": creds.client_id,
            "client_secret": creds.client_secret.expose_secret(),
            "enterprise_id": creds.enterprise_id,
        })
        .to_string();
        self.put_string(name, body, "seatkeeper Box client-credentials app")
            .await
    }

    pub async fn dropbox_credentials(&self, name: &str) -> Result<DropboxCredentials, SecretError> {
        self.get_json(
            name,
            "app_key, app_secret, refresh_token, team_id, admin_team_member_id",
        )
        .await
    }

    /// Creates or updates a Dropbox credential slot (the operator's app key and secret, and after
    /// a connect the refresh token, team and authorizing admin). Only the callback and seatctl
    /// write these.
    pub async fn put_dropbox_credentials(
        &self,
        name: &str,
        creds: &DropboxCredentials,
    ) -> Result<(), SecretError> {
        let body = serde_json::json!({
            "app_key": creds.app_key,
            "app_secret": creds.app_secret.expose_secret(),
            "refresh_token": creds.refresh_token.as_ref().map(|r| r.expose_secret().to_owned()),
            "team_id": creds.team_id,
            "team_name": creds.team_name,
            "admin_team_member_id": creds.admin_team_member_id,
            "admin_email": creds.admin_email,
            "connected_at": creds.connected_at,
        })
        .to_string();
        self.put_string(name, body, "seatkeeper Dropbox app credentials")
            .await
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        name: &str,
        expected: &'static str,
    ) -> Result<T, SecretError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(name)
            .send()
            .await
            .map_err(|e| {
                let not_found = e
                    .as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception());
                if not_found {
                    SecretError::NotFound {
                        name: name.to_owned(),
                    }
                } else {
                    SecretError::Aws {
                        name: name.to_owned(),
                        message: DisplayErrorContext(&e).to_string(),
                    }
                }
            })?;
        let raw = out.secret_string().unwrap_or_default();
        // serde_json's error would quote part of the value: replace it with the expected shape.
        serde_json::from_str(raw).map_err(|_| SecretError::BadShape {
            name: name.to_owned(),
            expected,
        })
    }

    async fn put_string(
        &self,
        name: &str,
        value: String,
        description: &str,
    ) -> Result<(), SecretError> {
        let aws = |e: String| SecretError::Aws {
            name: name.to_owned(),
            message: e,
        };
        match self
            .client
            .put_secret_value()
            .secret_id(name)
            .secret_string(value.clone())
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                self.client
                    .create_secret()
                    .name(name)
                    .description(description)
                    .secret_string(value)
                    .tags(
                        aws_sdk_secretsmanager::types::Tag::builder()
                            .key("app")
                            .value("seatkeeper")
                            .build(),
                    )
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| aws(DisplayErrorContext(&e).to_string()))
            }
            Err(e) => Err(aws(DisplayErrorContext(&e).to_string())),
        }
    }
}
