//! Reading Kubernetes `Secret` objects as the platform stores them (opened, never logged).

use base64::Engine as _;
use switchyard_model::Kind;

use crate::{ObjectKey, Store};

/// A Secret's values: `data` (base64) overlaid by `stringData`, as Kubernetes merges them.
pub fn secret_data(body: &serde_json::Value) -> Result<Vec<(String, String)>, String> {
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

/// One key of a Secret, or a message naming the missing Secret or key. The value is for the
/// caller's use only: never log it.
pub async fn secret_value(
    store: &dyn Store,
    namespace: &str,
    name: &str,
    key: &str,
) -> Result<String, String> {
    let object = store
        .get(&ObjectKey::new(Kind::Secret, namespace, name))
        .await
        .map_err(|e| format!("cannot read Secret `{name}`: {e}"))?
        .ok_or_else(|| format!("Secret `{name}` not found in namespace `{namespace}`"))?;
    secret_data(&object.body)
        .map_err(|e| format!("Secret `{name}`: {e}"))?
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .ok_or_else(|| format!("Secret `{name}` has no key `{key}`"))
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
