//! Lists in pages: `?limit=N&continue=TOKEN`, as Kubernetes and Argo's server take them.
//!
//! A page ends with `metadata.continue` when more follow; the token names the list it came
//! from (kind and namespace scope) and the last object of the page, so the next page starts
//! right after it whatever was written in between (see `Store::list_page`). The token is
//! base64url JSON: opaque to clients, and a token of another list, or one that was never
//! given out, is a 400 that says so.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use switchyard_model::Kind;
use switchyard_store::{ListCursor, PageRequest, Store, StoredObject};

use crate::error::ApiError;

/// The longest token taken: a cursor is two names of at most 253 bytes each, and more is
/// not one of ours.
const MAX_TOKEN_LEN: usize = 2048;

/// A list request's page parameters (`limit`, `continue`).
#[derive(Debug, Default, Clone, Copy)]
pub struct ListParams<'a> {
    pub limit: Option<u64>,
    pub continue_token: Option<&'a str>,
}

#[derive(Serialize, Deserialize)]
struct Token {
    kind: String,
    /// The namespace listed; absent for a list across namespaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    after: ListCursor,
}

fn encode(kind: Kind, scope: Option<&str>, after: ListCursor) -> String {
    let token = Token {
        kind: kind.name().to_owned(),
        scope: scope.map(str::to_owned),
        after,
    };
    // Serializing strings into JSON cannot fail.
    let json = serde_json::to_vec(&token).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

fn decode(token: &str, kind: Kind, scope: Option<&str>) -> Result<ListCursor, ApiError> {
    let not_ours = || {
        ApiError::bad_request(
            "`continue` is not a token this server gave out: pass the `metadata.continue` of \
             the page before, unchanged",
        )
    };
    if token.len() > MAX_TOKEN_LEN {
        return Err(not_ours());
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| not_ours())?;
    let token: Token = serde_json::from_slice(&bytes).map_err(|_| not_ours())?;
    if token.kind != kind.name() || token.scope.as_deref() != scope {
        let listed = match &token.scope {
            Some(ns) => format!("{} in namespace `{ns}`", token.kind),
            None => format!("{} across namespaces", token.kind),
        };
        return Err(ApiError::bad_request(format!(
            "`continue` belongs to another list ({listed}); a token asks for the next page of \
             the list it came from"
        )));
    }
    Ok(token.after)
}

/// Reads the list the parameters ask for: every object, or one page and the token of the
/// next. `scope` is the namespace listed (None: across namespaces).
pub async fn read(
    store: &dyn Store,
    kind: Kind,
    scope: Option<&str>,
    params: &ListParams<'_>,
) -> Result<(Vec<StoredObject>, Option<String>), ApiError> {
    let after = params
        .continue_token
        .filter(|t| !t.is_empty())
        .map(|t| decode(t, kind, scope))
        .transpose()?;
    // `limit=0` is "no limit", as in Kubernetes.
    let limit = params.limit.filter(|l| *l > 0);
    let Some(limit) = limit else {
        if after.is_some() {
            return Err(ApiError::bad_request(
                "`continue` needs `limit`: ask for the next page with the page size of the \
                 first",
            ));
        }
        return Ok((store.list(kind, scope).await?, None));
    };
    let page = PageRequest {
        after,
        limit: usize::try_from(limit).unwrap_or(usize::MAX),
    };
    let page = store.list_page(kind, scope, &page).await?;
    let next = page.next().map(|after| encode(kind, scope, after));
    Ok((page.items, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(ns: &str, name: &str) -> ListCursor {
        ListCursor {
            namespace: ns.into(),
            name: name.into(),
        }
    }

    #[test]
    fn a_token_reads_back_for_its_own_list_only() {
        let token = encode(Kind::Workflow, Some("default"), cursor("default", "run-b"));
        assert_eq!(
            decode(&token, Kind::Workflow, Some("default")).unwrap(),
            cursor("default", "run-b")
        );
        let other_ns = decode(&token, Kind::Workflow, Some("team-a")).unwrap_err();
        assert!(
            other_ns
                .body
                .message
                .contains("belongs to another list (Workflow in namespace `default`)"),
            "{other_ns:?}"
        );
        assert!(decode(&token, Kind::Workflow, None).is_err());
        assert!(decode(&token, Kind::Sensor, Some("default")).is_err());
        let across = encode(Kind::ConfigMap, None, cursor("a", "b"));
        assert_eq!(
            decode(&across, Kind::ConfigMap, None).unwrap(),
            cursor("a", "b")
        );
    }

    #[test]
    fn tokens_never_given_out_are_refused() {
        for token in [
            "x",
            "not base64!",
            &URL_SAFE_NO_PAD.encode(b"{}"),
            &URL_SAFE_NO_PAD.encode(b"[1,2]"),
            &"A".repeat(MAX_TOKEN_LEN + 1),
        ] {
            let err = decode(token, Kind::Workflow, None).unwrap_err();
            assert!(
                err.body
                    .message
                    .contains("not a token this server gave out"),
                "{token}: {err:?}"
            );
        }
    }
}
