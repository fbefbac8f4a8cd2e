//! Filling a step's Secret-backed environment variables when it starts. Values are read from
//! the store at that moment and go only to the step's environment: never into the run's
//! state, its status or a log line.

use base64::Engine as _;
use switchyard_engine::SecretEnvRef;
use switchyard_model::Kind;
use switchyard_store::{ObjectKey, Store};

/// The variables for `refs`, or a message naming the missing Secret or key (the step then
/// fails with it). An `optional` reference that cannot be found is left out.
pub async fn resolve(
    store: &dyn Store,
    namespace: &str,
    refs: &[SecretEnvRef],
) -> Result<Vec<(String, String)>, String> {
    let mut vars = Vec::new();
    for r in refs {
        let key = ObjectKey::new(Kind::Secret, namespace, r.secret.clone());
        let object = store
            .get(&key)
            .await
            .map_err(|e| format!("cannot read Secret `{}`: {e}", r.secret))?;
        let Some(object) = object else {
            if r.optional {
                continue;
            }
            return Err(format!(
                "Secret `{}` not found in namespace `{namespace}` (needed for environment variable `{}`)",
                r.secret, r.name
            ));
        };
        let data = secret_data(&object.body).map_err(|e| format!("Secret `{}`: {e}", r.secret))?;
        match &r.key {
            Some(k) => match data.iter().find(|(name, _)| name == k) {
                Some((_, v)) => vars.push((r.name.clone(), v.clone())),
                None if r.optional => {}
                None => {
                    return Err(format!(
                        "Secret `{}` has no key `{k}` (needed for environment variable `{}`)",
                        r.secret, r.name
                    ));
                }
            },
            None => {
                for (k, v) in data {
                    vars.push((format!("{}{k}", r.name), v));
                }
            }
        }
    }
    Ok(vars)
}

/// A Secret's values: `data` (base64) overlaid by `stringData`, as Kubernetes merges them.
fn secret_data(body: &serde_json::Value) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    if let Some(data) = body.get("data").and_then(serde_json::Value::as_object) {
        for (k, v) in data {
            let text = v.as_str().unwrap_or_default();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| format!("data.{k} is not valid base64: {e}"))?;
            let value = String::from_utf8(bytes).map_err(|_| {
                format!("data.{k} is not UTF-8 text, so it cannot be an environment variable")
            })?;
            out.push((k.clone(), value));
        }
    }
    if let Some(data) = body
        .get("stringData")
        .and_then(serde_json::Value::as_object)
    {
        for (k, v) in data {
            let value = v.as_str().unwrap_or_default().to_string();
            match out.iter_mut().find(|(name, _)| name == k) {
                Some(slot) => slot.1 = value,
                None => out.push((k.clone(), value)),
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn string_data_overrides_data() {
        let body = json!({"data": {"a": "eA==", "b": "eQ=="}, "stringData": {"b": "z", "c": "w"}});
        let got = secret_data(&body).unwrap();
        assert_eq!(
            got,
            vec![
                ("a".to_string(), "x".to_string()),
                ("b".to_string(), "z".to_string()),
                ("c".to_string(), "w".to_string())
            ]
        );
        let bad = json!({"data": {"a": "%%%"}});
        assert!(
            secret_data(&bad)
                .unwrap_err()
                .contains("data.a is not valid base64")
        );
    }
}
