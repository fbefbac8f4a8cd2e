//! Kubernetes scheduling on the one node steps run on: a pod's `nodeSelector`, chosen as Argo
//! chooses it (`addSchedulingConstraints`), against the labels of this machine
//! ([`Library::node_labels`](crate::state::Library::node_labels)).
//!
//! A pod the node cannot take is never started. Its node stays `Pending` with the message Argo
//! shows for a pod whose `PodScheduled` condition is `Unschedulable`, until something ends it:
//! - the workflow's `activeDeadlineSeconds`, `stop` and `terminate` fail it (in `reconcile`, as
//!   Argo's `failNodesWithoutCreatedPodsAfterDeadlineOrShutdown` fails Pending nodes);
//! - a template's `timeout` or `pendingTimeout` fails it with Argo's `timeout`: both count the
//!   time a node is Pending (Argo's `checkTemplateTimeouts`);
//! - a template's `activeDeadlineSeconds` does not: Kubernetes counts it from the pod's start
//!   on a node, and this pod never gets one.
//!
//! The labels are the run's, copied at submit, so a pod is judged the same on every pass and
//! after a restart: a node that was left Pending is never looked at again.

use std::collections::BTreeMap;

use switchyard_expr::Mode;
use switchyard_model::workflow::Template;

use crate::exec::{Op, Opts, to_chrono};
use crate::naming;
use crate::resolve::{self, Call, Scope};
use crate::state::NodePhase;
use crate::vars;

/// The message of a pod no node can take: Argo's `<reason>: <message>` of the pod's
/// `PodScheduled` condition. The message is the Kubernetes scheduler's `FitError` for a cluster
/// of one node that the NodeAffinity filter turned down (its `ErrReasonPod`), followed by what
/// the default preemption plugin found: a node turned down for its labels cannot be freed by
/// evicting pods.
pub(crate) const UNSCHEDULABLE_MESSAGE: &str = "Unschedulable: 0/1 nodes are available: 1 node(s) \
     didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 \
     Preemption is not helpful for scheduling.";

/// The message of a node whose template `timeout` or `pendingTimeout` ran out while it was
/// Pending (Argo's `ErrTimeout`).
pub(crate) const PENDING_TIMEOUT_MESSAGE: &str = "timeout";

/// Whether a node with these labels satisfies the selector: every key is a label of the node,
/// with exactly that value (a `nodeSelector` is a set of equality requirements).
pub(crate) fn fits(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// A template's own selector, with `templateDefaults`' merged under it key by key (as
/// `resolve::apply_defaults` merges maps), when neither holds a `{{...}}` tag: what submit
/// can know of a pod's selector before the run. `None` when neither has one (the pod's then
/// comes from where the template is called) or it is only known once substituted.
pub(crate) fn static_selector(
    defaults: Option<&Template>,
    tmpl: &Template,
) -> Option<BTreeMap<String, String>> {
    let mut selector = defaults
        .map(|d| d.node_selector.clone())
        .unwrap_or_default();
    selector.extend(
        tmpl.node_selector
            .iter()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    let tagged = selector
        .iter()
        .any(|(k, v)| k.contains("{{") || v.contains("{{"));
    (!selector.is_empty() && !tagged).then_some(selector)
}

impl Op<'_> {
    /// The node selector of a pod of `tmpl` (its header already substituted and its
    /// `templateDefaults` applied), as Argo picks it: the template's own; else that of the
    /// template of its boundary (the steps or DAG template it runs in); else the workflow's.
    /// The other two are taken with the `workflow.*` variables substituted, as Argo's
    /// workflow-level substitution leaves them.
    pub(crate) fn node_selector(
        &self,
        tmpl: &Template,
        opts: &Opts,
    ) -> Result<BTreeMap<String, String>, String> {
        if !tmpl.node_selector.is_empty() {
            return Ok(tmpl.node_selector.clone());
        }
        let boundary = self.boundary_template_selector(opts);
        let selector = match boundary {
            Some(s) => s,
            None => self.run.spec.node_selector.clone(),
        };
        selector
            .into_iter()
            .map(|(k, v)| Ok((k, vars::subst(&v, &self.globals, &Mode::Lenient)?)))
            .collect()
    }

    /// The `nodeSelector` of the template of `opts.boundary`'s node, when it has one. An
    /// inline template (a node with neither a template name nor a reference) has none to go
    /// by.
    fn boundary_template_selector(&self, opts: &Opts) -> Option<BTreeMap<String, String>> {
        let boundary = self.node(opts.boundary.as_deref()?)?;
        if boundary.template_name.is_none() && boundary.template_ref.is_none() {
            return None;
        }
        let call = Call {
            template: boundary.template_name.clone(),
            template_ref: boundary.template_ref.clone(),
            inline: None,
        };
        let scope = Scope::decode(boundary.template_scope.as_deref());
        let (_, tmpl) = resolve::resolve(self.run.spec, self.run.library, &scope, &call).ok()?;
        let defaults = self.run.spec.template_defaults.as_deref();
        let mut selector = defaults
            .map(|d| d.node_selector.clone())
            .unwrap_or_default();
        selector.extend(
            tmpl.node_selector
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        (!selector.is_empty()).then_some(selector)
    }

    /// Keeps the Pending pod node `id` from starting when the run's node cannot take a pod of
    /// `tmpl` (returns true): the node gets the scheduler's message and, when the template has
    /// a `timeout` or `pendingTimeout`, the time it fails at (or fails now, when that time has
    /// come). Returns false when the pod fits.
    pub(crate) fn hold_unschedulable(
        &mut self,
        id: &str,
        tmpl: &Template,
        opts: &Opts,
    ) -> Result<bool, String> {
        let selector = self.node_selector(tmpl, opts)?;
        if fits(&selector, &self.run.library.node_labels) {
            return Ok(false);
        }
        let started = self.node(id).map_or(self.now, |n| n.started_at);
        let mut deadline = None;
        for (field, value) in [
            ("timeout", tmpl.timeout.as_deref()),
            ("pendingTimeout", tmpl.pending_timeout.as_deref()),
        ] {
            let Some(text) = value.filter(|t| !t.is_empty()) else {
                continue;
            };
            let d = naming::parse_duration(text).map_err(|e| format!("invalid {field}: {e}"))?;
            let at = started + to_chrono(d);
            deadline = Some(deadline.map_or(at, |x: chrono::DateTime<chrono::Utc>| x.min(at)));
        }
        if deadline.is_some_and(|d| self.now >= d) {
            self.mark(id, NodePhase::Failed, Some(PENDING_TIMEOUT_MESSAGE));
            return Ok(true);
        }
        self.mark(id, NodePhase::Pending, Some(UNSCHEDULABLE_MESSAGE));
        if self.node(id).is_some_and(|n| n.deadline != deadline) {
            self.set_wake(id, deadline);
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_selector_fits_when_every_pair_is_a_label() {
        let labels = map(&[
            ("kubernetes.io/arch", "amd64"),
            ("kubernetes.io/os", "linux"),
            ("disk", ""),
        ]);
        assert!(fits(&map(&[]), &labels));
        assert!(fits(&map(&[("kubernetes.io/os", "linux")]), &labels));
        assert!(fits(
            &map(&[
                ("kubernetes.io/os", "linux"),
                ("kubernetes.io/arch", "amd64")
            ]),
            &labels
        ));
        assert!(fits(&map(&[("disk", "")]), &labels));
        assert!(!fits(&map(&[("kubernetes.io/os", "windows")]), &labels));
        assert!(!fits(&map(&[("gpu", "")]), &labels));
        assert!(!fits(
            &map(&[("kubernetes.io/os", "linux"), ("zone", "a")]),
            &labels
        ));
        assert!(!fits(&map(&[("kubernetes.io/os", "linux")]), &map(&[])));
    }

    #[test]
    fn submit_knows_a_selector_only_when_it_is_the_templates_own_and_plain() {
        let tmpl = |selector: &[(&str, &str)]| Template {
            node_selector: map(selector),
            ..Template::default()
        };
        assert_eq!(static_selector(None, &tmpl(&[])), None);
        assert_eq!(
            static_selector(None, &tmpl(&[("a", "1")])),
            Some(map(&[("a", "1")]))
        );
        assert_eq!(
            static_selector(None, &tmpl(&[("a", "{{inputs.parameters.a}}")])),
            None
        );
        let defaults = tmpl(&[("a", "0"), ("b", "2")]);
        assert_eq!(
            static_selector(Some(&defaults), &tmpl(&[("a", "1")])),
            Some(map(&[("a", "1"), ("b", "2")]))
        );
        assert_eq!(
            static_selector(Some(&defaults), &tmpl(&[])),
            Some(map(&[("a", "0"), ("b", "2")]))
        );
    }
}
