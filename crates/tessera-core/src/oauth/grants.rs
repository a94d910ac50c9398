//! The grants of `/oauth/token`: `client_credentials`, `password` and `refresh_token`, and
//! the audience and scope rules they share.

use super::{Issued, OAuth, OAuthError, TokenRequest, allows, requested_scopes};
use crate::error::AuthError;
use crate::oauth::oidc::{OPENID_SCOPES, is_openid_scope};
use crate::session::{IssueOptions, LoginContext};
use crate::store::{ClientRecord, GrantType};
use crate::token::ClientGrant;

impl OAuth {
    /// Answers a token request of an authenticated client.
    pub(crate) async fn token(
        &self,
        client: &ClientRecord,
        request: TokenRequest<'_>,
    ) -> Result<Issued, OAuthError> {
        let grant = GrantType::parse(request.grant_type).ok_or_else(|| {
            OAuthError::UnsupportedGrantType(
                "grant_type must be authorization_code, client_credentials, password or refresh_token".into(),
            )
        })?;
        allows(client, grant)?;
        let audience = self.audience(client, request.resource)?;
        match grant {
            GrantType::ClientCredentials => self.client_credentials(client, request, audience),
            GrantType::Password => self.password(client, request, audience).await,
            GrantType::RefreshToken => self.refresh(client, request, audience).await,
            GrantType::AuthorizationCode => self.oidc.redeem(client, &request).await,
        }
    }

    /// The audience a request selects (RFC 8707): its `resource` if the client may name it,
    /// or else the client's default (its first registered audience, or the server's own).
    fn audience(
        &self,
        client: &ClientRecord,
        resource: Option<&str>,
    ) -> Result<Option<String>, OAuthError> {
        crate::oauth::oidc::audience(client, resource, self.sessions.issuer().audience())
            .map_err(|m| OAuthError::InvalidTarget(m.into()))
    }

    /// The scopes of a user grant: the request's (each one the client may have), or the
    /// client's, or, for a client registered without scopes, every permission of the user.
    /// A client with the `authorization_code` grant may always have the OpenID scopes (a
    /// session's granted scope limits them further).
    fn user_scopes(
        client: &ClientRecord,
        scope: Option<&str>,
    ) -> Result<Option<Vec<String>>, OAuthError> {
        let openid = client.grants.contains(&GrantType::AuthorizationCode);
        let may_have = |s: &String| {
            client.scopes.is_empty() || client.scopes.contains(s) || (openid && is_openid_scope(s))
        };
        match requested_scopes(scope)? {
            Some(requested) => {
                if !requested.iter().all(may_have) {
                    return Err(OAuthError::InvalidScope(
                        "a requested scope is not among this client's scopes".into(),
                    ));
                }
                Ok(Some(requested))
            }
            None if client.scopes.is_empty() => Ok(None),
            None => {
                let mut scopes = client.scopes.clone();
                if openid {
                    scopes.extend(OPENID_SCOPES.iter().map(|s| (*s).to_owned()));
                }
                Ok(Some(scopes))
            }
        }
    }

    fn client_credentials(
        &self,
        client: &ClientRecord,
        request: TokenRequest<'_>,
        audience: Option<String>,
    ) -> Result<Issued, OAuthError> {
        let scopes = match requested_scopes(request.scope)? {
            Some(requested) => {
                if let Some(outside) = requested.iter().find(|s| !client.scopes.contains(s)) {
                    return Err(OAuthError::InvalidScope(format!(
                        "the scope '{outside}' is not among this client's scopes"
                    )));
                }
                requested
            }
            None => client.scopes.clone(),
        };
        let now = self.sessions.now();
        let access = self
            .sessions
            .issuer()
            .issue_for_client(
                now,
                ClientGrant {
                    client_id: &client.id,
                    scopes,
                    audience: audience.as_deref(),
                },
            )
            .map_err(|e| AuthError::Internal(Box::new(e)))?;
        tracing::info!(event = "token.client_credentials", client_id = %client.id, "client token issued");
        let scope = access.claims.scope.clone().unwrap_or_default();
        Ok(Issued {
            access,
            refresh: None,
            scope,
            id_token: None,
        })
    }

    async fn password(
        &self,
        client: &ClientRecord,
        request: TokenRequest<'_>,
        audience: Option<String>,
    ) -> Result<Issued, OAuthError> {
        if !client.first_party {
            return Err(OAuthError::UnauthorizedClient(
                "the password grant is for first-party clients only".into(),
            ));
        }
        let (Some(username), Some(password)) = (request.username, request.password) else {
            return Err(OAuthError::InvalidRequest(
                "the password grant needs username and password".into(),
            ));
        };
        let context = LoginContext {
            user_agent: request.user_agent.map(str::to_owned),
            client_ip: request.client_ip.map(str::to_owned),
            issue: IssueOptions {
                client_id: Some(client.id.clone()),
                audience,
                scopes: Self::user_scopes(client, request.scope)?,
                cookie: false,
            },
        };
        let pair = self
            .login
            .login(username, password, context)
            .await
            .map_err(|e| match e {
                AuthError::InvalidCredentials => {
                    OAuthError::InvalidGrant("invalid username or password")
                }
                other => other.into(),
            })?;
        Ok(Issued::from_pair(
            pair,
            client.grants.contains(&GrantType::RefreshToken),
        ))
    }

    async fn refresh(
        &self,
        client: &ClientRecord,
        request: TokenRequest<'_>,
        audience: Option<String>,
    ) -> Result<Issued, OAuthError> {
        let Some(presented) = request.refresh_token else {
            return Err(OAuthError::InvalidRequest(
                "the refresh_token grant needs refresh_token".into(),
            ));
        };
        let options = IssueOptions {
            client_id: Some(client.id.clone()),
            audience,
            scopes: Self::user_scopes(client, request.scope)?,
            cookie: false,
        };
        let pair = self
            .sessions
            .refresh(presented, &options)
            .await
            .map_err(|e| match e {
                AuthError::InvalidGrant => OAuthError::InvalidGrant(
                    "the refresh token is unknown, expired, revoked, reused or another client's",
                ),
                other => other.into(),
            })?;
        Ok(Issued::from_pair(pair, true))
    }
}
