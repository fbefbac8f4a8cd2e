//! Kubernetes core `v1` kinds that Argo manifests reference: `Secret` and `ConfigMap`, and the
//! key selectors (`SecretKeySelector`, `ConfigMapKeySelector`) other kinds use to point into them.
//!
//! Values follow Kubernetes' rules: `data` of a Secret and `binaryData` of a ConfigMap are
//! standard base64 (padding required, line breaks ignored, as Go's decoder does), and a key in
//! a Secret's `stringData` replaces the same key in `data`.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::meta::ObjectMeta;
use crate::policy::FieldPolicy;

/// `kind: Secret`. Values are base64 in `data`, plain text in `stringData`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Base64-encoded values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
    /// Plain-text values; a key here wins over the same key in `data`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub string_data: BTreeMap<String, String>,
    /// `Opaque` when absent.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,
}

impl Secret {
    /// The Secret's type, `Opaque` when none is given.
    pub fn secret_type(&self) -> &str {
        self.type_.as_deref().unwrap_or("Opaque")
    }

    /// Every value, decoded: `data` base64-decoded, then `stringData` on top (it wins, as in
    /// Kubernetes). The error names the first key whose value is not valid base64.
    pub fn decoded_values(&self) -> Result<BTreeMap<String, Vec<u8>>, String> {
        let mut out = BTreeMap::new();
        for (key, encoded) in &self.data {
            out.insert(key.clone(), decode_base64("data", key, encoded)?);
        }
        for (key, plain) in &self.string_data {
            out.insert(key.clone(), plain.as_bytes().to_vec());
        }
        Ok(out)
    }

    /// One decoded value; `Ok(None)` when the key is in neither `data` nor `stringData`.
    pub fn value(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        if let Some(plain) = self.string_data.get(key) {
            return Ok(Some(plain.as_bytes().to_vec()));
        }
        self.data
            .get(key)
            .map(|encoded| decode_base64("data", key, encoded))
            .transpose()
    }
}

/// `kind: ConfigMap`. Text values in `data`, base64 values in `binaryData`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMap {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
    /// Base64-encoded values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub binary_data: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,
}

impl ConfigMap {
    /// Every value as bytes: `data` as text, `binaryData` base64-decoded. A key may appear in
    /// only one of the two (Kubernetes rejects such a ConfigMap); the error names the key.
    pub fn values(&self) -> Result<BTreeMap<String, Vec<u8>>, String> {
        let mut out: BTreeMap<String, Vec<u8>> = self
            .data
            .iter()
            .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
            .collect();
        for (key, encoded) in &self.binary_data {
            if self.data.contains_key(key) {
                return Err(format!(
                    "key `{key}` is in both `data` and `binaryData`; a key may appear in only one"
                ));
            }
            out.insert(key.clone(), decode_base64("binaryData", key, encoded)?);
        }
        Ok(out)
    }

    /// One value as bytes; `Ok(None)` when the key is in neither `data` nor `binaryData`.
    pub fn value(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        if let Some(text) = self.data.get(key) {
            return Ok(Some(text.as_bytes().to_vec()));
        }
        self.binary_data
            .get(key)
            .map(|encoded| decode_base64("binaryData", key, encoded))
            .transpose()
    }
}

/// Kubernetes' `SecretKeySelector`: one key of a Secret in the same namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeySelector {
    /// The Secret's name.
    pub name: String,
    /// The key inside the Secret.
    pub key: String,
    /// When true, a missing Secret or key is not an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

impl SecretKeySelector {
    pub fn is_optional(&self) -> bool {
        self.optional.unwrap_or(false)
    }
}

/// Kubernetes' `ConfigMapKeySelector`: one key of a ConfigMap in the same namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapKeySelector {
    /// The ConfigMap's name.
    pub name: String,
    /// The key inside the ConfigMap.
    pub key: String,
    /// When true, a missing ConfigMap or key is not an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

impl ConfigMapKeySelector {
    pub fn is_optional(&self) -> bool {
        self.optional.unwrap_or(false)
    }
}

/// Standard base64 as Go's `encoding/json` decodes `[]byte`: padding required, non-zero
/// trailing bits tolerated.
const KUBERNETES_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// Decodes one base64 value of `field.key`; Go's decoder ignores `\r` and `\n`, so do we.
fn decode_base64(field: &str, key: &str, encoded: &str) -> Result<Vec<u8>, String> {
    let compact: String = encoded
        .chars()
        .filter(|c| *c != '\r' && *c != '\n')
        .collect();
    KUBERNETES_BASE64
        .decode(compact.as_bytes())
        .map_err(|e| format!("`{field}.{key}` is not valid base64: {e}"))
}

pub(crate) fn policy(_type_name: &str, _field: &str) -> Option<FieldPolicy> {
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn secret(json: &str) -> Secret {
        serde_json::from_str(json).unwrap()
    }

    fn as_text(values: &BTreeMap<String, Vec<u8>>) -> Vec<(String, String)> {
        values
            .iter()
            .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
            .collect()
    }

    #[test]
    fn secret_decoding() {
        // (case, data, stringData, expected key=value pairs or error)
        type Case = (
            &'static str,
            &'static [(&'static str, &'static str)],
            &'static [(&'static str, &'static str)],
            Result<&'static [(&'static str, &'static str)], &'static str>,
        );
        let cases: &[Case] = &[
            ("empty", &[], &[], Ok(&[])),
            (
                "data only",
                &[("token", "czNjcjN0"), ("user", "YWRtaW4=")],
                &[],
                Ok(&[("token", "s3cr3t"), ("user", "admin")]),
            ),
            (
                "stringData only",
                &[],
                &[("token", "plain")],
                Ok(&[("token", "plain")]),
            ),
            (
                "stringData wins over data",
                &[("token", "b2xk"), ("keep", "a2VlcA==")],
                &[("token", "new")],
                Ok(&[("keep", "keep"), ("token", "new")]),
            ),
            (
                "line breaks are ignored, as in Go",
                &[("cert", "aGVs\nbG8g\r\nd29y\nbGQ=")],
                &[],
                Ok(&[("cert", "hello world")]),
            ),
            ("empty value", &[("blank", "")], &[], Ok(&[("blank", "")])),
            (
                "bad character names the key",
                &[("good", "b2s="), ("password", "not base64!")],
                &[],
                Err("`data.password` is not valid base64"),
            ),
            (
                "missing padding is rejected, as in Go",
                &[("short", "YWRtaW4")],
                &[],
                Err("`data.short` is not valid base64"),
            ),
            (
                "a bad data key is reported even when stringData has it",
                &[("dup", "%%%")],
                &[("dup", "fine")],
                Err("`data.dup` is not valid base64"),
            ),
        ];
        for (name, data, string_data, want) in cases {
            let s = Secret {
                data: data
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                string_data: string_data
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ..Secret::default()
            };
            match (s.decoded_values(), want) {
                (Ok(got), Ok(want)) => {
                    let want: Vec<(String, String)> = want
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect();
                    assert_eq!(as_text(&got), want, "{name}");
                }
                (Err(got), Err(want)) => assert!(got.starts_with(want), "{name}: {got}"),
                (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn secret_single_value_lookup() {
        let s = secret(
            r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"bus-auth"},
                "data":{"token":"czNjcjN0","bad":"@@"},"stringData":{"user":"ops"}}"#,
        );
        assert_eq!(s.value("token").unwrap(), Some(b"s3cr3t".to_vec()));
        assert_eq!(s.value("user").unwrap(), Some(b"ops".to_vec()));
        assert_eq!(s.value("absent").unwrap(), None);
        assert!(s.value("bad").unwrap_err().starts_with("`data.bad`"));
        assert_eq!(s.secret_type(), "Opaque");
    }

    #[test]
    fn secret_round_trips_with_kubernetes_names() {
        let text = r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"tls","namespace":"ops"},"data":{"tls.crt":"Y2VydA=="},"stringData":{"note":"x"},"type":"kubernetes.io/tls","immutable":true}"#;
        let s = secret(text);
        assert_eq!(s.type_.as_deref(), Some("kubernetes.io/tls"));
        assert_eq!(s.immutable, Some(true));
        assert_eq!(s.secret_type(), "kubernetes.io/tls");
        assert_eq!(serde_json::to_string(&s).unwrap(), text);
    }

    #[test]
    fn config_map_values() {
        // (case, fields after metadata, expected key=value pairs or error)
        type Case = (
            &'static str,
            &'static str,
            Result<&'static [(&'static str, &'static str)], &'static str>,
        );
        let cases: &[Case] = &[
            (
                "text and binary",
                r#""data":{"a":"one"},"binaryData":{"b":"dHdv"}"#,
                Ok(&[("a", "one"), ("b", "two")]),
            ),
            ("empty", "", Ok(&[])),
            (
                "bad binary names the key",
                r#""binaryData":{"blob":"***"}"#,
                Err("`binaryData.blob` is not valid base64"),
            ),
            (
                "key in both",
                r#""data":{"k":"v"},"binaryData":{"k":"dg=="}"#,
                Err("key `k` is in both `data` and `binaryData`"),
            ),
        ];
        for (name, fields, want) in cases {
            let sep = if fields.is_empty() { "" } else { "," };
            let json = format!(
                r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"c"}}{sep}{fields}}}"#
            );
            let cm: ConfigMap = serde_json::from_str(&json).unwrap();
            match (cm.values(), want) {
                (Ok(got), Ok(want)) => {
                    let want: Vec<(String, String)> = want
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect();
                    assert_eq!(as_text(&got), want, "{name}");
                }
                (Err(got), Err(want)) => assert!(got.starts_with(want), "{name}: {got}"),
                (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
            }
        }
        let cm: ConfigMap = serde_json::from_str(
            r#"{"apiVersion":"v1","kind":"ConfigMap","data":{"a":"1"},"binaryData":{"b":"Mg=="},"immutable":false}"#,
        )
        .unwrap();
        assert_eq!(cm.value("a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(cm.value("b").unwrap(), Some(b"2".to_vec()));
        assert_eq!(cm.value("c").unwrap(), None);
        assert_eq!(cm.immutable, Some(false));
    }

    #[test]
    fn selectors() {
        let s: SecretKeySelector = serde_json::from_str(r#"{"name":"n","key":"k"}"#).unwrap();
        assert_eq!(
            s,
            SecretKeySelector {
                name: "n".into(),
                key: "k".into(),
                optional: None
            }
        );
        assert!(!s.is_optional());
        let c: ConfigMapKeySelector =
            serde_json::from_str(r#"{"name":"n","key":"k","optional":true}"#).unwrap();
        assert!(c.is_optional());
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"name":"n","key":"k","optional":true}"#
        );
        let missing_key = serde_json::from_str::<SecretKeySelector>(r#"{"name":"n"}"#)
            .unwrap_err()
            .to_string();
        assert!(missing_key.contains("missing field `key`"), "{missing_key}");
    }
}
