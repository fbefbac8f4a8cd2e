//! Issued API tokens: created by an admin with a name and roles, shown once, kept as hashes.
//!
//! Each token is a meta entry `auth.token.<sha256 hex>` holding its record (name, roles, who
//! issued it, when), so a presented token is found with one keyed read of its hash. The list
//! of tokens (for `token list` and to keep names unique) is one more entry, `auth.tokens`.
//! Revoking replaces the record with a tombstone: the hash never authenticates again.
//!
//! Looking a token up by its hash does not leak the token through timing: an attacker would
//! have to find inputs whose SHA-256 shares a prefix with the real token's hash.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchyard_api::ErrorCode;
use switchyard_store::{Store, StoreError, rules};
use tokio::sync::Mutex;

use crate::auth::{Principal, TOKEN_PREFIX, TokenHash, generate_token, roles};
use crate::error::ApiError;
use crate::state::AppState;

const RECORD_PREFIX: &str = "auth.token.";
const INDEX_KEY: &str = "auth.tokens";

/// Serializes token changes within this process (the index is read, changed and written).
static CHANGES: Mutex<()> = Mutex::const_new(());

/// What the store keeps about one issued token (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRecord {
    pub name: String,
    pub roles: Vec<String>,
    pub created: String,
    pub created_by: String,
    /// The first 8 hex digits of the hash: enough to tell tokens apart in a list.
    pub hash_prefix: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub revoked: bool,
}

/// The principal an issued `token` stands for, or `None` when it is unknown or revoked.
pub async fn lookup(store: &dyn Store, token: &str) -> Result<Option<Principal>, StoreError> {
    if !token.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    let key = format!("{RECORD_PREFIX}{}", TokenHash::of(token).to_hex());
    let Some(raw) = store.get_meta(&key).await? else {
        return Ok(None);
    };
    let record: TokenRecord = serde_json::from_str(&raw).map_err(|e| StoreError::Corrupt {
        what: format!("the token record {key} is not valid: {e}"),
    })?;
    Ok((!record.revoked).then_some(Principal {
        name: record.name,
        roles: record.roles,
    }))
}

/// One entry of the token list: the record and the full hash that keys it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct IndexEntry {
    hash: String,
    #[serde(flatten)]
    record: TokenRecord,
}

async fn index(store: &dyn Store) -> Result<Vec<IndexEntry>, StoreError> {
    match store.get_meta(INDEX_KEY).await? {
        None => Ok(Vec::new()),
        Some(raw) => serde_json::from_str(&raw).map_err(|e| StoreError::Corrupt {
            what: format!("the token list ({INDEX_KEY}) is not valid: {e}"),
        }),
    }
}

async fn put_json(store: &dyn Store, key: &str, value: &impl Serialize) -> Result<(), StoreError> {
    let text = serde_json::to_string(value).map_err(|e| StoreError::Internal {
        reason: format!("cannot encode {key}: {e}"),
    })?;
    store.put_meta(key, &text).await
}

/// Checks a token name: what a person or a robot is called, used in messages and audit.
fn check_token_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.' | '_' | '@')
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "token name `{name}` must be 1 to 63 characters of a-z, 0-9, `-`, `.`, `_`, `@`, starting with a letter or digit"
        ))
    }
}

fn check_role(role: &str) -> Result<(), String> {
    let ok = !role.is_empty()
        && role.len() <= 63
        && role
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "role `{role}` must be 1 to 63 characters of a-z, 0-9 and `-` (e.g. `{}`, `{}`, `{}`)",
            roles::ORDERER,
            roles::APPROVER,
            roles::ADMIN
        ))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    pub name: String,
    pub roles: Vec<String>,
}

/// `POST /api/v1/tokens` (admin): issues a token; the answer is the only place it appears.
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Json<CreateToken>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    principal.require(roles::ADMIN, "create tokens")?;
    let Json(body) = body.map_err(crate::routes::json_rejection)?;
    check_token_name(&body.name).map_err(ApiError::bad_request)?;
    if body.roles.is_empty() {
        return Err(ApiError::bad_request(format!(
            "a token needs at least one role (e.g. `{}` or `{}`)",
            roles::ORDERER,
            roles::APPROVER
        )));
    }
    for role in &body.roles {
        check_role(role).map_err(ApiError::bad_request)?;
    }
    let store = state.store().as_ref();
    let _guard = CHANGES.lock().await;
    let mut all = index(store).await?;
    if body.name == Principal::admin().name
        || all
            .iter()
            .any(|t| t.record.name == body.name && !t.record.revoked)
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::Conflict,
            format!(
                "a token named `{}` exists; revoke it first or choose another name",
                body.name
            ),
        ));
    }
    let token = generate_token();
    let hash = TokenHash::of(&token).to_hex();
    let record = TokenRecord {
        name: body.name,
        roles: body.roles,
        created: rules::format_timestamp(&rules::now()),
        created_by: principal.name,
        hash_prefix: hash[..8].to_owned(),
        revoked: false,
    };
    // The record first: a crash before the index is written leaves a working token that
    // `token list` does not show, never a listed token that does not work.
    put_json(store, &format!("{RECORD_PREFIX}{hash}"), &record).await?;
    all.retain(|t| t.record.name != record.name);
    all.push(IndexEntry {
        hash,
        record: record.clone(),
    });
    put_json(store, INDEX_KEY, &all).await?;
    tracing::info!(name = %record.name, roles = ?record.roles, "token created");
    let mut out = serde_json::to_value(&record).unwrap_or_default();
    out["token"] = json!(token);
    Ok((StatusCode::CREATED, Json(out)))
}

/// `GET /api/v1/tokens` (admin): every token issued, without the tokens.
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Value>, ApiError> {
    principal.require(roles::ADMIN, "list tokens")?;
    let all: Vec<TokenRecord> = index(state.store().as_ref())
        .await?
        .into_iter()
        .map(|t| t.record)
        .collect();
    Ok(Json(json!({ "items": all })))
}

/// `DELETE /api/v1/tokens/{name}` (admin): the token stops working at once.
pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    principal.require(roles::ADMIN, "revoke tokens")?;
    let store = state.store().as_ref();
    let _guard = CHANGES.lock().await;
    let mut all = index(store).await?;
    let Some(entry) = all
        .iter_mut()
        .find(|t| t.record.name == name && !t.record.revoked)
    else {
        return Err(ApiError::not_found(format!("no token named `{name}`")));
    };
    entry.record.revoked = true;
    let tombstone = entry.record.clone();
    put_json(store, &format!("{RECORD_PREFIX}{}", entry.hash), &tombstone).await?;
    put_json(store, INDEX_KEY, &all).await?;
    tracing::info!(%name, "token revoked");
    Ok(Json(serde_json::to_value(&tombstone).unwrap_or_default()))
}

/// `GET /api/v1/whoami`: the caller's name and roles.
pub async fn whoami(principal: Principal) -> Json<Value> {
    Json(json!({ "name": principal.name, "roles": principal.roles }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_roles() {
        for ok in ["alice", "ci-bot", "a.b@example.com", "0"] {
            assert!(check_token_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Alice", "-x", "a b", &"x".repeat(64)] {
            assert!(check_token_name(bad).is_err(), "{bad}");
        }
        assert!(check_role("platform-lead").is_ok());
        assert!(check_role("Admin").is_err());
    }
}
