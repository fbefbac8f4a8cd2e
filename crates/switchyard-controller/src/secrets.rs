//! Filling a step's Secret-backed environment variables when it starts. Values are read from
//! the store at that moment and go only to the step's environment: never into the run's
//! state, its status or a log line.

use switchyard_engine::SecretEnvRef;
use switchyard_model::Kind;
use switchyard_store::secrets::secret_data;
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
