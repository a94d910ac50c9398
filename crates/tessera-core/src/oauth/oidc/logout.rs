//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): the end-session endpoint
//! ends the browser's sign-in and the client's session named by the ID token hint, then sends
//! the browser to a registered post-logout redirect URI, or shows a page.
//!
//! A logout without a valid `id_token_hint` is not trusted to come from the user (any page
//! can link to it): the user confirms it on a page first, and it never redirects to a URI
//! that is not registered for the client the request names.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use tessera_verify::dangerous::verify_signature_only;

use super::{BrowserSignIn, Oidc, with_query};
use crate::audit::{AuditEvent, AuditRecord};
use crate::domain::SessionId;
use crate::error::AuthError;
use crate::store::{ClientRecord, RevokeReason};

/// The parameters of an end-session request.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LogoutRequest {
    /// An ID token this server issued to the client (it may have expired).
    pub id_token_hint: Option<String>,
    /// Where to send the browser afterwards: one of the client's registered ones.
    pub post_logout_redirect_uri: Option<String>,
    /// Returned as is with the redirect.
    pub state: Option<String>,
    /// The client, when there is no hint.
    pub client_id: Option<String>,
}

/// What the end-session endpoint does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndSession {
    /// Signed out; the browser goes to this URL.
    Redirect(String),
    /// Signed out; a page says so.
    SignedOut,
    /// Nothing changed yet: the user is asked to confirm on a page.
    Confirm,
    /// Refused; the page shows why and nothing changed.
    Refused(&'static str),
}

/// The claims of an ID token hint that matter here.
#[derive(Debug, Deserialize)]
struct Hint {
    iss: String,
    sub: String,
    aud: HintAudience,
    sid: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum HintAudience {
    One(String),
    Many(Vec<String>),
}

/// A checked end-session request.
struct Target {
    hint: Option<Hint>,
    client_id: Option<String>,
    client: Option<std::sync::Arc<ClientRecord>>,
    redirect: Option<String>,
}

#[derive(Deserialize)]
struct Header {
    kid: Option<String>,
    typ: Option<String>,
}

impl Oidc {
    /// The claims of an ID token this server signed (typ `JWT`, our key, our issuer), expired
    /// or not. An access token (typ `at+jwt`) is not an ID token.
    fn hint(&self, token: &str) -> Option<Hint> {
        let header = token.split('.').next()?;
        let header: Header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        if header.typ.as_deref() != Some("JWT") {
            return None;
        }
        let kid = header.kid?;
        let ring = self.sessions.issuer().keys().get();
        let key = ring
            .verification_keys()
            .into_iter()
            .find(|k| k.kid() == kid)?;
        let payload = verify_signature_only(token, &key).ok()?;
        let hint: Hint = serde_json::from_slice(&payload).ok()?;
        (hint.iss == self.issuer()).then_some(hint)
    }

    /// Who and where an end-session request names, checked: the hint ours, the client the
    /// hint's audience, the redirect registered for it. `Err` says why it is refused.
    async fn target(
        &self,
        request: &LogoutRequest,
    ) -> Result<Result<Target, &'static str>, AuthError> {
        let hint = match request.id_token_hint.as_deref() {
            Some(token) => match self.hint(token) {
                Some(hint) => Some(hint),
                None => {
                    return Ok(Err(
                        "The id_token_hint is not an ID token this server issued.",
                    ));
                }
            },
            None => None,
        };
        let hinted_client = hint.as_ref().and_then(|h| match &h.aud {
            HintAudience::One(a) => Some(a.clone()),
            HintAudience::Many(a) if a.len() == 1 => a.first().cloned(),
            HintAudience::Many(_) => None,
        });
        let client_id = match (hinted_client, request.client_id.as_deref()) {
            (Some(a), Some(b)) if a != b => {
                return Ok(Err(
                    "The client_id is not the audience of the id_token_hint.",
                ));
            }
            (Some(a), _) => Some(a),
            (None, b) => b.map(str::to_owned),
        };
        let client = match &client_id {
            Some(id) => self.clients.client(id).await?,
            None => None,
        };
        let redirect = match request.post_logout_redirect_uri.as_deref() {
            None => None,
            Some(uri) => {
                let registered = client
                    .as_ref()
                    .is_some_and(|c| c.post_logout_redirect_uris.iter().any(|r| r == uri));
                if !registered {
                    return Ok(Err(
                        "The post_logout_redirect_uri is not one the application registered, so you are not sent there.",
                    ));
                }
                Some(uri.to_owned())
            }
        };
        Ok(Ok(Target {
            hint,
            client_id,
            client,
            redirect,
        }))
    }

    /// Handles an end-session request for the browser's sign-in; `confirmed` when the user
    /// confirmed it on the page (a POST with the form's CSRF token).
    pub(crate) async fn end_session(
        &self,
        request: &LogoutRequest,
        sign_in: Option<&BrowserSignIn>,
        confirmed: bool,
    ) -> Result<EndSession, AuthError> {
        let Target {
            hint,
            client_id,
            client,
            redirect,
        } = match self.target(request).await? {
            Ok(target) => target,
            Err(why) => return Ok(EndSession::Refused(why)),
        };
        if hint.is_none() && !confirmed {
            return Ok(EndSession::Confirm);
        }
        let now = self.now();
        let ended = self
            .sessions_to_end(hint.as_ref(), client.as_deref(), sign_in)
            .await?;
        for id in &ended {
            self.store()
                .revoke_session(id, RevokeReason::EndSession, now)
                .await?;
        }
        if !ended.is_empty() {
            self.sessions.sync_revocations().await;
        }
        if let Some(sign_in) = sign_in {
            self.sessions
                .audit()
                .record(
                    AuditRecord::new(AuditEvent::Logout)
                        .by_user(&sign_in.user.id)
                        .subject(&sign_in.user.id)
                        .session(Some(&sign_in.session.id))
                        .detail(match &client_id {
                            Some(id) => format!("end_session for client {id}"),
                            None => "end_session".to_owned(),
                        }),
                )
                .await;
        }
        tracing::info!(
            event = "session.end_session",
            sessions = ended.len(),
            "signed out through the end-session endpoint"
        );
        Ok(match redirect {
            Some(uri) => EndSession::Redirect(match request.state.as_deref() {
                Some(state) => with_query(&uri, &[("state", state)]),
                None => uri,
            }),
            None => EndSession::SignedOut,
        })
    }

    /// What a logout ends: the client's session the hint names (if it is the hint's user's at
    /// that client), and, when the browser's sign-in is the hint's user's, that sign-in and
    /// every session it started with the client.
    async fn sessions_to_end(
        &self,
        hint: Option<&Hint>,
        client: Option<&ClientRecord>,
        sign_in: Option<&BrowserSignIn>,
    ) -> Result<Vec<SessionId>, AuthError> {
        let mut ended: Vec<SessionId> = Vec::new();
        if let (Some(hint), Some(client)) = (hint, client)
            && let Some(sid) = &hint.sid
        {
            let id = SessionId::from_trusted(sid.clone());
            let theirs = self
                .store()
                .session(&id)
                .await?
                .is_some_and(|s| s.client_id == client.id && s.user_id.as_str() == hint.sub);
            if theirs {
                ended.push(id);
            }
        }
        if let Some(sign_in) = sign_in
            && hint.is_none_or(|h| h.sub == sign_in.user.id.as_str())
        {
            if let Some(client) = client {
                for id in self
                    .store()
                    .client_sessions_of_browser(&sign_in.session.id, &client.id)
                    .await?
                {
                    if !ended.contains(&id) {
                        ended.push(id);
                    }
                }
            }
            ended.push(sign_in.session.id.clone());
        }
        Ok(ended)
    }
}
