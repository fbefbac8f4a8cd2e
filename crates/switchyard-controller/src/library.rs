//! Gathering a run's [`Library`] from the store at submit: the (Cluster)WorkflowTemplates and
//! ConfigMaps it refers to, transitively, so the run does not change when they do later.

use std::collections::{BTreeMap, HashMap};

use switchyard_engine::{Library, LibraryRef, library_refs};
use switchyard_model::Kind;
use switchyard_model::workflow::{Workflow, WorkflowSpec};
use switchyard_store::{ObjectKey, Store, StoreError, StoredObject};

use crate::error::ControllerError;

/// How many rounds of references are followed before giving up (a template library that
/// refers to itself in a loop is refused rather than followed forever).
const MAX_ROUNDS: usize = 32;

/// Objects not stored yet that a submit may refer to (the other objects of one `apply`), by
/// key; they take precedence over the store.
pub type Overlay = HashMap<ObjectKey, StoredObject>;

/// The library `workflow` needs in `namespace`. A reference to an object that does not exist
/// is left out: `submit` then reports it with the path of the field that refers to it.
pub async fn gather(
    store: &dyn Store,
    namespace: &str,
    workflow: &Workflow,
    overlay: &Overlay,
) -> Result<Library, ControllerError> {
    let mut library = Library::default();
    for _ in 0..MAX_ROUNDS {
        let refs = library_refs(workflow, &library);
        let mut progressed = false;
        for r in refs {
            let (kind, ns, name) = match &r {
                LibraryRef::WorkflowTemplate(n) => (Kind::WorkflowTemplate, namespace, n),
                LibraryRef::ClusterWorkflowTemplate(n) => (Kind::ClusterWorkflowTemplate, "", n),
                LibraryRef::ConfigMap(n) => (Kind::ConfigMap, namespace, n),
            };
            if name.is_empty() {
                continue;
            }
            let key = ObjectKey::new(kind, ns, name.clone());
            let object = match overlay.get(&key) {
                Some(o) => o.clone(),
                None => match store.get(&key).await? {
                    Some(o) => o,
                    None => continue,
                },
            };
            progressed = true;
            match r {
                LibraryRef::WorkflowTemplate(n) => {
                    library.workflow_templates.insert(n, spec_of(&object)?);
                }
                LibraryRef::ClusterWorkflowTemplate(n) => {
                    library
                        .cluster_workflow_templates
                        .insert(n, spec_of(&object)?);
                }
                LibraryRef::ConfigMap(n) => {
                    library.config_maps.insert(n, config_map_data(&object));
                }
            }
        }
        if !progressed {
            return Ok(library);
        }
    }
    Err(ControllerError::invalid(
        "spec",
        format!("templates refer to other templates more than {MAX_ROUNDS} levels deep"),
    ))
}

fn spec_of(object: &StoredObject) -> Result<WorkflowSpec, StoreError> {
    let spec = object
        .body
        .get("spec")
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    serde_json::from_value(spec).map_err(|e| StoreError::Corrupt {
        what: format!("{}: spec: {e}", object.key()),
    })
}

/// `data` and `binaryData`-free string data of a ConfigMap.
fn config_map_data(object: &StoredObject) -> BTreeMap<String, String> {
    object
        .body
        .get("data")
        .and_then(serde_json::Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}
