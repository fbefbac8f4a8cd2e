//! The offering catalog as the server serves it: the stored Offerings, checked and compiled
//! once, looked up by route for every order.

use std::sync::Arc;

use switchyard_catalog::Offering;
use switchyard_model::Kind;
use switchyard_store::{Store, StoreError};

/// The compiled offerings, sorted by namespace and name.
#[derive(Debug, Default)]
pub struct Catalog {
    offerings: Vec<Offering>,
}

impl Catalog {
    /// Reads and compiles every stored Offering. One that no longer compiles (stored by an
    /// older build with other rules) is left out with a warning rather than failing all.
    pub async fn load(store: &dyn Store) -> Result<Catalog, StoreError> {
        let mut offerings = Vec::new();
        for object in store.list(Kind::Offering, None).await? {
            let spec = &object.body["spec"];
            match Offering::from_manifest(&object.namespace, &object.name, spec) {
                Ok(offering) => offerings.push(offering),
                Err(problems) => {
                    let problems: Vec<String> = problems
                        .iter()
                        .map(|p| format!("{}: {}", p.path, p.message))
                        .collect();
                    tracing::warn!(
                        namespace = %object.namespace, name = %object.name,
                        problems = %problems.join("; "),
                        "offering left out of the catalog"
                    );
                }
            }
        }
        offerings.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        Ok(Catalog { offerings })
    }

    pub fn offerings(&self) -> &[Offering] {
        &self.offerings
    }

    /// The offering ordered at `route` (e.g. `/environments`); the first by namespace and
    /// name when two claim it (apply refuses that, so only a race can cause it).
    pub fn by_route(&self, route: &str) -> Option<&Offering> {
        let route = route.trim_end_matches('/');
        self.offerings.iter().find(|o| o.route == route)
    }

    /// The offering called `name`: `namespace/name`, or a bare name when it is unique.
    pub fn by_name(&self, name: &str) -> Result<&Offering, String> {
        if let Some((ns, n)) = name.split_once('/') {
            return self
                .offerings
                .iter()
                .find(|o| o.namespace == ns && o.name == n)
                .ok_or_else(|| format!("no offering `{name}`"));
        }
        let found: Vec<&Offering> = self.offerings.iter().filter(|o| o.name == name).collect();
        match found.as_slice() {
            [one] => Ok(one),
            [] => Err(format!(
                "no offering `{name}`; the catalog has {}",
                self.names().join(", ")
            )),
            many => Err(format!(
                "offering `{name}` exists in several namespaces ({}); say which as namespace/name",
                many.iter()
                    .map(|o| o.namespace.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    fn names(&self) -> Vec<String> {
        self.offerings.iter().map(|o| o.name.clone()).collect()
    }
}

/// A shared, swappable catalog: readers take the current one; a reload swaps it whole.
#[derive(Default)]
pub struct CatalogCell {
    current: std::sync::RwLock<Arc<Catalog>>,
}

impl CatalogCell {
    pub fn get(&self) -> Arc<Catalog> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reloads from the store; on failure the previous catalog stays and the error is logged.
    pub async fn reload(&self, store: &dyn Store) {
        match Catalog::load(store).await {
            Ok(catalog) => {
                let catalog = Arc::new(catalog);
                match self.current.write() {
                    Ok(mut guard) => *guard = catalog,
                    Err(poisoned) => *poisoned.into_inner() = catalog,
                }
            }
            Err(err) => tracing::warn!(error = %err, "the offering catalog was not reloaded"),
        }
    }
}

/// Route problems of the Offerings in an apply: two offerings of the request, or one of the
/// request and one already in the catalog (other than itself), claiming the same route.
pub fn route_problems(
    catalog: &Catalog,
    objects: &[&switchyard_manifest::Loaded],
) -> Vec<switchyard_model::Diagnostic> {
    use switchyard_model::{DEFAULT_NAMESPACE, Resource, Severity};
    let mut out = Vec::new();
    let mut claimed: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for loaded in objects {
        let Resource::Offering(offering) = &loaded.resource else {
            continue;
        };
        let Some(route) = offering.spec["route"].as_str() else {
            continue;
        };
        let route = route.trim_end_matches('/').to_owned();
        let namespace = offering
            .metadata
            .namespace
            .as_deref()
            .unwrap_or(DEFAULT_NAMESPACE);
        let name = offering.metadata.name.as_deref().unwrap_or_default();
        let me = format!("{namespace}/{name}");
        if let Some(other) = claimed.get(&route) {
            out.push(loaded.diagnostic(
                Severity::Error,
                "spec.route",
                format!("route {route} is also claimed by Offering {other} in this request"),
            ));
            continue;
        }
        if let Some(stored) = catalog.by_route(&route)
            && (stored.namespace != namespace || stored.name != name)
        {
            out.push(loaded.diagnostic(
                Severity::Error,
                "spec.route",
                format!(
                    "route {route} is already ordered through Offering {}/{}; choose another route or delete that offering",
                    stored.namespace, stored.name
                ),
            ));
            continue;
        }
        claimed.insert(route, me);
    }
    out
}
