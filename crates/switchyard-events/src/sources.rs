//! From stored EventSources to the listeners that serve them.

use std::collections::BTreeMap;

use axum::http::Method;
use switchyard_model::events::EventSource;
use switchyard_store::secrets::secret_value;
use switchyard_store::{Store, StoredObject};

use crate::webhook::{HmacCheck, RouteProblem, WebhookRoute};
use switchyard_model::events::DEFAULT_HMAC_HEADER;

/// The webhook routes of `sources`, with their bearer tokens read from Secrets. A source
/// whose object cannot be read, or an event whose token or method is unusable, is left out
/// with a problem naming it (the other events are served).
pub async fn webhook_routes(
    store: &dyn Store,
    sources: &[StoredObject],
) -> (Vec<WebhookRoute>, Vec<RouteProblem>) {
    let mut routes = Vec::new();
    let mut problems = Vec::new();
    for object in sources {
        let source: EventSource = match serde_json::from_value(object.body.clone()) {
            Ok(source) => source,
            Err(err) => {
                problems.push(RouteProblem {
                    namespace: object.namespace.clone(),
                    source: object.name.clone(),
                    event: String::new(),
                    message: format!("the stored EventSource cannot be read: {err}"),
                });
                continue;
            }
        };
        let events: &BTreeMap<_, _> = &source.spec.webhook;
        for (event, hook) in events {
            let problem = |message: String| RouteProblem {
                namespace: object.namespace.clone(),
                source: object.name.clone(),
                event: event.clone(),
                message,
            };
            let port = match hook.port_number() {
                Ok(port) => port,
                Err(message) => {
                    problems.push(problem(message));
                    continue;
                }
            };
            let method = match Method::from_bytes(hook.method.trim().as_bytes()) {
                Ok(method) => method,
                Err(_) => {
                    problems.push(problem(format!(
                        "method `{}` is not an HTTP method",
                        hook.method
                    )));
                    continue;
                }
            };
            let auth_token = match &hook.auth_secret {
                None => None,
                Some(selector) => {
                    match secret_value(store, &object.namespace, &selector.name, &selector.key)
                        .await
                    {
                        // A token saved with a trailing newline still matches.
                        Ok(token) => Some(token.trim().to_owned()),
                        Err(message) => {
                            problems.push(problem(format!("authSecret: {message}")));
                            continue;
                        }
                    }
                }
            };
            let hmac = match &hook.hmac {
                None => None,
                Some(check) => {
                    let selector = &check.secret;
                    match secret_value(store, &object.namespace, &selector.name, &selector.key)
                        .await
                    {
                        Ok(key) if !key.trim().is_empty() => Some(HmacCheck {
                            header: check
                                .header
                                .clone()
                                .unwrap_or_else(|| DEFAULT_HMAC_HEADER.to_owned()),
                            key: key.trim().as_bytes().to_vec(),
                        }),
                        Ok(_) => {
                            problems.push(problem("hmac.secret: the key is empty".to_owned()));
                            continue;
                        }
                        Err(message) => {
                            problems.push(problem(format!("hmac.secret: {message}")));
                            continue;
                        }
                    }
                }
            };
            routes.push(WebhookRoute {
                namespace: object.namespace.clone(),
                source: object.name.clone(),
                event: event.clone(),
                port,
                endpoint: hook.endpoint.clone(),
                method,
                auth_token,
                metadata: hook.metadata.clone(),
                max_payload: u64::try_from(hook.max_payload_size()).unwrap_or(0),
                filter: hook.filter.as_ref().and_then(|f| f.expression.clone()),
                hmac,
            });
        }
    }
    (routes, problems)
}
