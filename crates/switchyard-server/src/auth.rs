//! Authentication: bearer tokens, the principal they stand for, and the admin token's
//! first-start bootstrap.
//!
//! Only SHA-256 hashes of tokens are kept (in the store's meta table); a presented token is
//! hashed and compared in constant time. Every `/api/` route sits behind [`require_bearer`],
//! which puts the caller's [`Principal`] in the request; handlers take it as an extractor and
//! check roles. Today there is one principal, `admin`, with every role; orderers and
//! approvers are added as more [`Authenticator`] entries.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use switchyard_store::Store;

use crate::error::{ApiError, Error};
use crate::state::AppState;

/// Every token Switchyard issues starts with this, so leaked tokens are easy to scan for.
pub const TOKEN_PREFIX: &str = "syd_";

/// The meta-table key holding the hex SHA-256 of the admin token.
pub const ADMIN_TOKEN_META_KEY: &str = "auth.admin_token_sha256";

/// The role names Switchyard gives a meaning to. An offering may name other roles in its
/// `access` lists; a token may hold any role names.
pub mod roles {
    /// May place orders (unless an offering says otherwise).
    pub const ORDERER: &str = "orderer";
    /// May approve or reject orders waiting for approval (unless an offering says otherwise).
    pub const APPROVER: &str = "approver";
    /// May do everything: apply manifests, manage tokens, read secrets, act on any run.
    pub const ADMIN: &str = "admin";
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub roles: Vec<String>,
}

impl Principal {
    pub fn admin() -> Self {
        Principal {
            name: "admin".to_owned(),
            roles: vec![roles::ADMIN.to_owned()],
        }
    }

    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == roles::ADMIN)
    }

    /// True when the principal holds `role` (admins hold every role).
    pub fn has_role(&self, role: &str) -> bool {
        self.is_admin() || self.roles.iter().any(|r| r == role)
    }

    /// True when the principal holds one of `any` (admins hold every role).
    pub fn has_any_role(&self, any: &[String]) -> bool {
        self.is_admin() || any.iter().any(|r| self.has_role(r))
    }

    /// `Ok` when the principal holds `role`, else a 403 that names what is missing.
    pub fn require(&self, role: &str, action: &str) -> Result<(), ApiError> {
        if self.has_role(role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "`{}` may not {action}: it needs the `{role}` role",
                self.name
            )))
        }
    }
}

/// The SHA-256 of a token.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    pub fn of(token: &str) -> Self {
        TokenHash(Sha256::digest(token.as_bytes()).into())
    }

    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Option<Self> {
        let bytes = hex::decode(s.trim()).ok()?;
        Some(TokenHash(bytes.try_into().ok()?))
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

/// A new random token: `syd_` and 32 random bytes in hex.
pub fn generate_token() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
}

/// The tokens known at start (the admin token), as hashes, and who each one is. Tokens
/// issued through the API live in the store (see [`crate::tokens`]) and are looked up there.
#[derive(Debug, Clone, Default)]
pub struct Authenticator {
    entries: Vec<(TokenHash, Principal)>,
}

impl Authenticator {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, hash: TokenHash, principal: Principal) {
        self.entries.push((hash, principal));
    }

    /// The principal for `token` among the start-time entries, comparing against every entry
    /// in constant time.
    pub fn authenticate(&self, token: &str) -> Option<Principal> {
        let presented = TokenHash::of(token);
        let mut found = None;
        for (hash, principal) in &self.entries {
            if bool::from(hash.0.ct_eq(&presented.0)) {
                found = Some(principal);
            }
        }
        found.cloned()
    }
}

/// The middleware in front of every `/api/` route: 401 unless the request carries a known
/// bearer token; otherwise the [`Principal`] is added to the request for handlers.
pub async fn require_bearer(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    match principal_of(&state, request.headers()).await {
        Ok(principal) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(e) => e.into_response(),
    }
}

/// Who the request's bearer token stands for: the admin token, or a token issued through
/// the API; a 401 that says what is wrong otherwise.
pub async fn principal_of(
    state: &AppState,
    headers: &axum::http::HeaderMap,
) -> Result<Principal, ApiError> {
    let Some(header) = headers.get(AUTHORIZATION) else {
        return Err(ApiError::unauthorized(
            "missing bearer token: send `Authorization: Bearer <token>` (the admin token is in the server's data directory, file admin.token)",
        ));
    };
    let token = header.to_str().ok().and_then(|value| {
        let (scheme, token) = value.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|t| !t.is_empty())
    });
    let Some(token) = token else {
        return Err(ApiError::unauthorized(
            "malformed Authorization header: expected `Authorization: Bearer <token>`",
        ));
    };
    if let Some(principal) = state.authenticator().authenticate(token) {
        return Ok(principal);
    }
    crate::tokens::lookup(state.store().as_ref(), token)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the bearer token is not valid"))
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("this route requires a bearer token"))
    }
}

/// What happened to the admin token while starting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminToken {
    /// First start (or `--rotate-admin-token`): a new token, shown once, saved to `path`.
    Created { token: String, path: PathBuf },
    /// A token already exists; `file_present` says whether `path` still holds it.
    Existing { path: PathBuf, file_present: bool },
}

impl AdminToken {
    /// The text printed to stderr at start. The plaintext token appears only for `Created`.
    pub fn announcement(&self) -> String {
        match self {
            AdminToken::Created { token, path } => format!(
                "Created an admin token. It is shown only this once and saved to {path} (mode 0600):\n\n    {token}\n\n\
                 The switchyard CLI on this machine reads that file by itself. Elsewhere, pass it with\n\
                 `--token` or `export SWITCHYARD_TOKEN=...`, or send `Authorization: Bearer <token>`.",
                path = path.display()
            ),
            AdminToken::Existing {
                path,
                file_present: true,
            } => format!("admin token: {}", path.display()),
            AdminToken::Existing {
                path,
                file_present: false,
            } => format!(
                "the admin token file {} is missing and the token cannot be recovered; \
                 restart with `switchyard up --rotate-admin-token` to issue a new one",
                path.display()
            ),
        }
    }
}

/// Loads the admin token's hash from the store, creating the token on first start (or when
/// `rotate` is set): the plaintext goes to `token_path` (mode 0600) and only its hash to the
/// store. The file is written before the hash so a crash in between leaves no orphan hash.
pub async fn bootstrap_admin_token(
    store: &dyn Store,
    token_path: &Path,
    rotate: bool,
) -> Result<(TokenHash, AdminToken), Error> {
    if !rotate && let Some(stored) = store.get_meta(ADMIN_TOKEN_META_KEY).await? {
        let hash = TokenHash::from_hex(&stored).ok_or_else(|| Error::AdminToken {
            message: format!(
                "the stored admin token hash (meta key {ADMIN_TOKEN_META_KEY}) is malformed; \
                 restart with `switchyard up --rotate-admin-token` to issue a new token"
            ),
        })?;
        return Ok((
            hash,
            AdminToken::Existing {
                path: token_path.to_owned(),
                file_present: token_path.exists(),
            },
        ));
    }
    let token = generate_token();
    write_private_file(token_path, &format!("{token}\n")).map_err(|source| Error::TokenFile {
        path: token_path.to_owned(),
        source,
    })?;
    let hash = TokenHash::of(&token);
    store.put_meta(ADMIN_TOKEN_META_KEY, &hash.to_hex()).await?;
    Ok((
        hash,
        AdminToken::Created {
            token,
            path: token_path.to_owned(),
        },
    ))
}

/// Writes `contents` to `path` readable only by the owner, replacing it atomically.
fn write_private_file(path: &Path, contents: &str) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_the_prefix_and_64_hex_digits() {
        let t = generate_token();
        let hex_part = t.strip_prefix(TOKEN_PREFIX).unwrap();
        assert_eq!(hex_part.len(), 64);
        assert!(hex_part.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(t, generate_token());
    }

    #[test]
    fn authenticates_only_known_tokens() {
        let mut auth = Authenticator::new();
        auth.add(TokenHash::of("syd_good"), Principal::admin());
        let cases = [
            ("syd_good", Some(Principal::admin())),
            ("syd_goo", None),
            ("syd_good ", None),
            ("", None),
        ];
        for (token, want) in cases {
            assert_eq!(auth.authenticate(token), want, "{token:?}");
        }
    }

    #[test]
    fn hash_hex_round_trips() {
        let h = TokenHash::of("x");
        assert_eq!(
            h.to_hex(),
            "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
        );
        assert_eq!(TokenHash::from_hex(&h.to_hex()), Some(h));
        assert_eq!(TokenHash::from_hex("abc"), None);
        assert_eq!(TokenHash::from_hex("zz"), None);
    }

    #[test]
    fn admin_holds_every_role() {
        let admin = Principal::admin();
        for role in [
            roles::ORDERER,
            roles::APPROVER,
            roles::ADMIN,
            "platform-lead",
        ] {
            assert!(admin.has_role(role));
        }
        let orderer = Principal {
            name: "dev".into(),
            roles: vec![roles::ORDERER.into()],
        };
        assert!(orderer.has_role(roles::ORDERER));
        assert!(!orderer.has_role(roles::ADMIN));
        assert!(orderer.has_any_role(&["x".into(), "orderer".into()]));
        assert!(!orderer.has_any_role(&["approver".into()]));
        let err = orderer.require(roles::ADMIN, "read secrets").unwrap_err();
        assert_eq!(
            err.body.message,
            "`dev` may not read secrets: it needs the `admin` role"
        );
    }
}
