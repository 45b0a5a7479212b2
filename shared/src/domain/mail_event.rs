//! Bounces and complaints: what Amazon SES publishes, through a configuration set's event
//! destination, to SNS (and from there to the mail-events queue), read into a [`MailEvent`].
//!
//! The body is the SES event record (`eventType`, `mail.messageId`, `bounce.bounceType`,
//! `bounce.bouncedRecipients[].emailAddress` and `diagnosticCode`, `complaint.complainedRecipients`)
//! either as is (the subscription's raw message delivery, which the template sets) or wrapped in
//! the SNS envelope (`Type: Notification`, the record as a JSON string in `Message`): both parse.
//! Identity feedback notifications name the type `notificationType`; they parse too.
use serde::Deserialize;

/// What an event means for the notice it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailEventKind {
    /// `Permanent` (or `Undetermined`: SES could not tell, so the user may not have been told):
    /// the notice failed.
    HardBounce,
    /// `Transient` (mailbox full, a message too large, a greylist): SES already retried; the
    /// notice is kept and the bounce recorded.
    SoftBounce,
    /// The user marked the notice as spam: SES suppresses further mail to them, so no reminder
    /// reaches them and the notice cannot be relied on.
    Complaint,
    /// Any other event type (the destination publishes only bounces and complaints; a widened
    /// one must not break the pass): acknowledged, nothing changes.
    Other(String),
}

/// One SES event about one message seatkeeper sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailEvent {
    /// SES's message id (what `SendEmail` returned).
    pub message_id: String,
    pub kind: MailEventKind,
    /// The bounced or complaining addresses.
    pub recipients: Vec<String>,
    /// Why, in words for the admin: the bounce type and subtype and the remote server's
    /// diagnostic, or the complaint's feedback type.
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an SES bounce or complaint event: {0}")]
pub struct MailEventParseError(pub String);

#[derive(Deserialize)]
struct SnsEnvelope {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "Message")]
    message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    event_type: Option<String>,
    notification_type: Option<String>,
    mail: Mail,
    bounce: Option<Bounce>,
    complaint: Option<Complaint>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Mail {
    message_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bounce {
    bounce_type: String,
    #[serde(default)]
    bounce_sub_type: Option<String>,
    #[serde(default)]
    bounced_recipients: Vec<Recipient>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Complaint {
    #[serde(default)]
    complained_recipients: Vec<Recipient>,
    #[serde(default)]
    complaint_feedback_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Recipient {
    email_address: String,
    #[serde(default)]
    diagnostic_code: Option<String>,
}

/// Longest diagnostic kept (a remote server's text; it lands in the notice and the digest).
const MAX_DETAIL: usize = 300;

/// Reads one queue message body: the SES record, raw or in its SNS envelope.
pub fn parse_mail_event(body: &str) -> Result<MailEvent, MailEventParseError> {
    let bad = |e: serde_json::Error| MailEventParseError(e.to_string());
    let value: serde_json::Value = serde_json::from_str(body).map_err(bad)?;
    let record: Record = match value.get("Type").and_then(|t| t.as_str()) {
        Some(_) => {
            let env: SnsEnvelope = serde_json::from_value(value).map_err(bad)?;
            if env.kind != "Notification" {
                return Err(MailEventParseError(format!(
                    "an SNS {} message, not a Notification",
                    env.kind
                )));
            }
            serde_json::from_str(&env.message).map_err(bad)?
        }
        None => serde_json::from_value(value).map_err(bad)?,
    };
    let Some(event_type) = record.event_type.or(record.notification_type) else {
        return Err(MailEventParseError("no eventType".into()));
    };
    if record.mail.message_id.trim().is_empty() {
        return Err(MailEventParseError("an empty mail.messageId".into()));
    }
    let (kind, recipients, detail) = match event_type.as_str() {
        "Bounce" => {
            let b = record
                .bounce
                .ok_or_else(|| MailEventParseError("a Bounce without a bounce object".into()))?;
            let kind = match b.bounce_type.as_str() {
                "Permanent" | "Undetermined" => MailEventKind::HardBounce,
                "Transient" => MailEventKind::SoftBounce,
                other => {
                    return Err(MailEventParseError(format!("bounceType {other:?}")));
                }
            };
            let diagnostic = b
                .bounced_recipients
                .iter()
                .find_map(|r| r.diagnostic_code.clone())
                .unwrap_or_else(|| "no diagnostic".into());
            let detail = format!(
                "{} bounce ({}): {diagnostic}",
                b.bounce_type,
                b.bounce_sub_type.as_deref().unwrap_or("-")
            );
            let to = b.bounced_recipients.into_iter().map(|r| r.email_address);
            (kind, to.collect(), detail)
        }
        "Complaint" => {
            let c = record.complaint.ok_or_else(|| {
                MailEventParseError("a Complaint without a complaint object".into())
            })?;
            let detail = format!(
                "complaint ({})",
                c.complaint_feedback_type
                    .as_deref()
                    .unwrap_or("no feedback type")
            );
            let to = c.complained_recipients.into_iter().map(|r| r.email_address);
            (MailEventKind::Complaint, to.collect(), detail)
        }
        other => (
            MailEventKind::Other(other.to_owned()),
            Vec::new(),
            other.to_owned(),
        ),
    };
    Ok(MailEvent {
        message_id: record.mail.message_id,
        kind,
        recipients,
        detail: truncate(&detail, MAX_DETAIL),
    })
}

fn truncate(s: &str, max: usize) -> String {
    // strip control characters: the text ends up in a log line, an email and a terminal
    let clean: String = s.chars().filter(|c| !c.is_control()).collect();
    match clean.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &clean[..at]),
        None => clean,
    }
}

/// The SES record of a bounce, as SES publishes it (for tests and the local demo).
pub fn ses_bounce_record(
    message_id: &str,
    bounce_type: &str,
    to: &str,
    diagnostic: &str,
) -> String {
    serde_json::json!({
        "eventType": "Bounce",
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": "General",
            "bouncedRecipients": [{
                "emailAddress": to,
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": diagnostic
            }],
            "timestamp": "2026-03-02T06:01:02.669Z",
            "feedbackId": "0100017example-000000",
            "reportingMTA": "dsn; mta.example.com"
        },
        "mail": {
            "timestamp": "2026-03-02T06:00:02.012Z",
            "source": "it-notices@example.com",
            "sendingAccountId": "123456789012",
            "messageId": message_id,
            "destination": [to],
            "headersTruncated": false,
            "tags": {"ses:configuration-set": ["seatkeeper-notices"]}
        }
    })
    .to_string()
}

/// The SES record of a complaint, as SES publishes it.
pub fn ses_complaint_record(message_id: &str, to: &str) -> String {
    serde_json::json!({
        "eventType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": to}],
            "timestamp": "2026-03-02T07:00:00.000Z",
            "feedbackId": "0100017example-000001",
            "userAgent": "Mozilla/5.0",
            "complaintFeedbackType": "abuse",
            "arrivalDate": "2026-03-02T07:00:00.000Z"
        },
        "mail": {
            "timestamp": "2026-03-02T06:00:02.012Z",
            "source": "it-notices@example.com",
            "messageId": message_id,
            "destination": [to]
        }
    })
    .to_string()
}

/// A record in the SNS envelope, as an SQS subscription without raw message delivery gets it.
pub fn in_sns_envelope(record: &str) -> String {
    serde_json::json!({
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:seatkeeper-mail-events",
        "Message": record,
        "Timestamp": "2026-03-02T06:01:03.000Z",
        "SignatureVersion": "1"
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounces_and_complaints_parse_raw_and_in_the_sns_envelope() {
        let raw = ses_bounce_record(
            "m-1",
            "Permanent",
            "eve@acme.com",
            "smtp; 550 5.1.1 user unknown",
        );
        for body in [raw.clone(), in_sns_envelope(&raw)] {
            let e = parse_mail_event(&body).unwrap();
            assert_eq!(e.message_id, "m-1");
            assert_eq!(e.kind, MailEventKind::HardBounce);
            assert_eq!(e.recipients, vec!["eve@acme.com".to_owned()]);
            assert!(e.detail.contains("550 5.1.1 user unknown"), "{}", e.detail);
        }
        let soft = ses_bounce_record("m-2", "Transient", "a@b.c", "mailbox full");
        assert_eq!(
            parse_mail_event(&soft).unwrap().kind,
            MailEventKind::SoftBounce
        );
        let undetermined = ses_bounce_record("m-2", "Undetermined", "a@b.c", "?");
        assert_eq!(
            parse_mail_event(&undetermined).unwrap().kind,
            MailEventKind::HardBounce
        );
        let c = parse_mail_event(&ses_complaint_record("m-3", "eve@acme.com")).unwrap();
        assert_eq!(c.kind, MailEventKind::Complaint);
        assert!(c.detail.contains("abuse"));
        let delivery = r#"{"eventType":"Delivery","mail":{"messageId":"m-4"},"delivery":{}}"#;
        assert_eq!(
            parse_mail_event(delivery).unwrap().kind,
            MailEventKind::Other("Delivery".into())
        );
    }

    #[test]
    fn malformed_bodies_are_errors() {
        for body in [
            "",
            "not json",
            "{}",
            r#"{"eventType":"Bounce","mail":{"messageId":"m"}}"#,
            r#"{"eventType":"Bounce","mail":{"messageId":""},"bounce":{"bounceType":"Permanent"}}"#,
            r#"{"eventType":"Bounce","mail":{"messageId":"m"},"bounce":{"bounceType":"Odd"}}"#,
            r#"{"Type":"SubscriptionConfirmation","Message":"{}"}"#,
            r#"{"Type":"Notification","Message":"not json"}"#,
        ] {
            assert!(parse_mail_event(body).is_err(), "{body:?}");
        }
    }
}
