//! [`Controller`]: submits runs, routes commands to their actors, recovers runs after a
//! restart, deletes runs, and reads their logs.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::Utc;
use switchyard_engine::{Command, RunState, StepRunner, WorkflowPhase, restart_actions, submit};
use switchyard_model::Kind;
use switchyard_model::workflow::{Parameter, Workflow, WorkflowTemplateRef};
use switchyard_store::{
    Fence, ObjectKey, Precondition, PutRequest, Store, StoreError, StoredObject, rules,
};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{info, warn};

use crate::error::ControllerError;
use crate::inbox::{RunInbox, UserCommand};
use crate::library::{self, Overlay};
use crate::metrics;
use crate::record;
use crate::run::{Msg, RunActor};

/// Settings of the controller.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// The time between SIGTERM and SIGKILL when a step is stopped.
    pub stop_grace: Duration,
    /// Host commands standing in for image entrypoints (for containers without `command`).
    pub image_entrypoints: BTreeMap<String, Vec<String>>,
    /// The labels of the node steps run on (this machine), matched against pods'
    /// `nodeSelector`: a pod asking for a label the node lacks waits `Pending` until its run
    /// ends it, as Kubernetes leaves a pod no node can take. Each run keeps the labels of its
    /// submit. The default is [`host_node_labels`](crate::host_node_labels).
    pub node_labels: BTreeMap<String, String>,
    /// The lease this controller drives the runs under, when processes share the store: every
    /// status write of a run checks it still carries this token, so a process that lost the
    /// lease (paused past its TTL) cannot overwrite what the new holder writes.
    pub fence: Option<Fence>,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            stop_grace: Duration::from_secs(10),
            image_entrypoints: BTreeMap::new(),
            node_labels: crate::node::host_node_labels(),
            fence: None,
        }
    }
}

/// What every actor shares.
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) runner: Arc<dyn StepRunner>,
    pub(crate) config: ControllerConfig,
    actors: Mutex<HashMap<ObjectKey, mpsc::UnboundedSender<Msg>>>,
    /// The number of actors, sent on every change (under the registry lock).
    active: watch::Sender<usize>,
    /// `Some` while another process drives the runs: submits and commands go there.
    forward_to: Mutex<Option<Arc<dyn RunInbox>>>,
    /// Serializes adoptions, so one run never gets two actors.
    adopting: tokio::sync::Mutex<()>,
    fence: Mutex<Option<Fence>>,
    /// Bumped when this process stops driving the runs: every actor of an earlier
    /// generation lets its run go (see [`Controller::stand_down`]).
    pub(crate) generation: watch::Sender<u64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// The lease run status writes are fenced by, if any.
    pub(crate) fn fence(&self) -> Option<Fence> {
        lock(&self.fence).clone()
    }

    /// Drops the registry entry of `key` if it is still this actor's.
    pub(crate) fn remove(&self, key: &ObjectKey, tx: &mpsc::UnboundedSender<Msg>) {
        let mut actors = lock(&self.actors);
        if actors.get(key).is_some_and(|t| t.same_channel(tx)) {
            actors.remove(key);
            self.active.send_replace(actors.len());
        }
    }

    /// An ended actor leaves the registry unless a message is waiting for it (checked under
    /// the registry lock, so no new sender can be handed out meanwhile). Returns true if it
    /// left. A sender handed out before may still send: its reply channel is then dropped
    /// unanswered and the caller asks again (see [`Controller::command`]).
    pub(crate) fn leave(
        &self,
        key: &ObjectKey,
        tx: &mpsc::UnboundedSender<Msg>,
        rx: &mpsc::UnboundedReceiver<Msg>,
    ) -> bool {
        let mut actors = lock(&self.actors);
        if !rx.is_empty() {
            return false;
        }
        if actors.get(key).is_some_and(|t| t.same_channel(tx)) {
            actors.remove(key);
            self.active.send_replace(actors.len());
        }
        true
    }
}

/// How to name a new run, and what to change in the submitted Workflow.
#[derive(Debug, Clone, Default)]
pub struct SubmitOptions {
    pub name: Option<String>,
    pub generate_name: Option<String>,
    /// Workflow parameters set or overridden (`-p name=value`).
    pub parameters: Vec<(String, String)>,
    pub entrypoint: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// Check and build the run without storing or starting it.
    pub dry_run: bool,
    /// Templates and ConfigMaps of the same request, not stored yet (see [`Overlay`]).
    pub overlay: Overlay,
}

/// What a submit created (or, in a dry run, would create).
#[derive(Debug, Clone)]
pub struct Submitted {
    pub object: StoredObject,
}

/// The workflow controller. Cheap to clone.
#[derive(Clone)]
pub struct Controller {
    shared: Arc<Shared>,
}

/// How many times a generated name is drawn again when it is taken.
const NAME_ATTEMPTS: usize = 8;

impl Controller {
    /// Creates the controller and takes over every unfinished run in the store: steps that
    /// were running are re-attached, steps whose start was not recorded are started (a step
    /// id runs at most once), and timers are set again.
    pub async fn start(
        store: Arc<dyn Store>,
        runner: Arc<dyn StepRunner>,
        config: ControllerConfig,
    ) -> Result<Controller, ControllerError> {
        let controller = Controller::new(store, runner, config);
        controller.recover().await?;
        Ok(controller)
    }

    /// A controller that has not looked at the store yet; [`Controller::recover`] takes over
    /// the unfinished runs.
    pub fn new(
        store: Arc<dyn Store>,
        runner: Arc<dyn StepRunner>,
        config: ControllerConfig,
    ) -> Controller {
        Controller {
            shared: Arc::new(Shared {
                store,
                runner,
                fence: Mutex::new(config.fence.clone()),
                config,
                actors: Mutex::new(HashMap::new()),
                active: watch::Sender::new(0),
                forward_to: Mutex::new(None),
                adopting: tokio::sync::Mutex::new(()),
                generation: watch::Sender::new(0),
            }),
        }
    }

    /// A controller that drives no run: another process holds the controller lease. Submits
    /// are checked and stored here and handed to that process through `inbox`, commands are
    /// sent there. [`Controller::take_over`] makes it drive the runs.
    pub fn forwarding(
        store: Arc<dyn Store>,
        runner: Arc<dyn StepRunner>,
        config: ControllerConfig,
        inbox: Arc<dyn RunInbox>,
    ) -> Controller {
        let controller = Controller::new(store, runner, config);
        *lock(&controller.shared.forward_to) = Some(inbox);
        controller
    }

    /// Starts driving the runs (this process took the controller lease): every unfinished
    /// run is taken over as at start.
    pub async fn take_over(&self, fence: Option<Fence>) -> Result<(), ControllerError> {
        *lock(&self.shared.fence) = fence;
        *lock(&self.shared.forward_to) = None;
        self.recover().await
    }

    /// Stops driving the runs (this process lost the controller lease): submits and commands
    /// go to `inbox` from now on, and every run's actor lets its run go without writing again
    /// or touching its steps; the next holder of the lease takes the runs over from the
    /// store. Returns once the actors are gone (or after `wait`, with a warning: any left
    /// can no longer write). [`Controller::take_over`] drives the runs again.
    pub async fn stand_down(&self, inbox: Arc<dyn RunInbox>, wait: Duration) {
        *lock(&self.shared.forward_to) = Some(inbox);
        self.shared.generation.send_modify(|g| *g += 1);
        let mut active = self.shared.active.subscribe();
        let gone = active.wait_for(|n| *n == 0);
        match tokio::time::timeout(wait, gone).await {
            Ok(_) => info!("stood down: no run is driven by this process"),
            Err(_) => warn!(
                runs = self.active_runs(),
                "stood down, but some runs' actors have not let go yet; they write nothing more"
            ),
        }
    }

    /// Whether this controller drives the runs (else it forwards to the process that does).
    pub fn is_driving(&self) -> bool {
        lock(&self.shared.forward_to).is_none()
    }

    fn inbox(&self) -> Option<Arc<dyn RunInbox>> {
        lock(&self.shared.forward_to).clone()
    }

    /// Takes over a run stored by another process (its submit, or a run whose actor is not
    /// here): a Pending run is started, an unfinished one continued. Nothing happens to a run
    /// that already has an actor here, is finished, or is gone.
    pub async fn adopt(&self, key: &ObjectKey) -> Result<(), ControllerError> {
        if !self.is_driving() {
            return Err(ControllerError::Unavailable(
                "this process does not drive runs".to_owned(),
            ));
        }
        let _one_at_a_time = self.shared.adopting.lock().await;
        if lock(&self.shared.actors).contains_key(key) {
            return Ok(());
        }
        let Some(object) = self.shared.store.get(key).await? else {
            return Ok(());
        };
        if record::stored_phase(&object).is_none_or(|phase| phase.is_finished()) {
            return Ok(());
        }
        let state = self.with_node_labels(record::from_object(&object)?);
        self.spawn_recovered(state, object.resource_version);
        Ok(())
    }

    /// A run that may or may not have been stored (its write failed in a way that leaves
    /// the outcome unknown) is driven if it was: in the background, until the store answers,
    /// the run is adopted here or handed to the process driving the runs. Adopting finds
    /// nothing to do when the run was not stored or already has its actor.
    fn drive_if_stored(&self, key: ObjectKey) {
        if let Some(inbox) = self.inbox() {
            hand_over(inbox, key);
            return;
        }
        let controller = self.clone();
        tokio::spawn(async move {
            let mut delay = Duration::from_millis(200);
            loop {
                match controller.adopt(&key).await {
                    Ok(()) => return,
                    // Another process drives the runs now: it takes over the stored ones.
                    Err(ControllerError::Unavailable(_)) if !controller.is_driving() => return,
                    Err(e) => {
                        warn!(workflow = %key, error = %e, "cannot tell yet whether the run was stored; looking again");
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_secs(10));
                    }
                }
            }
        });
    }

    /// Takes over every unfinished run in the store (see [`Controller::start`]), and sets
    /// the deletion of the finished ones that have a `ttlStrategy`.
    pub async fn recover(&self) -> Result<(), ControllerError> {
        let controller = self;
        let mut resumed = 0usize;
        for object in controller.shared.store.list(Kind::Workflow, None).await? {
            let Some(phase) = record::stored_phase(&object) else {
                warn!(workflow = %object.key(), "a stored Workflow has no run state; it is not driven");
                continue;
            };
            metrics::run_loaded(phase);
            if phase.is_finished() {
                if record::has_ttl(&object)
                    && let Ok(state) = record::from_object(&object)
                    && let Some(at) = switchyard_engine::ttl::expires_at(&state.spec, &state.status)
                {
                    self.expire_at(object.key(), at);
                }
                continue;
            }
            match record::from_object(&object) {
                Ok(state) => {
                    let state = controller.with_node_labels(state);
                    controller.spawn_recovered(state, object.resource_version);
                    resumed += 1;
                }
                Err(e) => warn!(error = %e, "cannot continue a run"),
            }
        }
        if resumed > 0 {
            info!(runs = resumed, "continuing unfinished runs");
        }
        Ok(())
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.shared.store
    }

    pub(crate) fn of(shared: Arc<Shared>) -> Controller {
        Controller { shared }
    }

    /// Deletes the finished run `key` at `at` (its `ttlStrategy`), unless this process
    /// stands down first (the next driver sets it again). At that time the stored run is
    /// read again: one that runs again (retried) is left alone, one that finished later is
    /// deleted later.
    pub(crate) fn expire_at(&self, key: ObjectKey, at: chrono::DateTime<Utc>) {
        let controller = self.clone();
        let generation = *self.shared.generation.borrow();
        let mut generations = self.shared.generation.subscribe();
        tokio::spawn(async move {
            let mut at = at;
            let mut pause = Duration::from_millis(200);
            loop {
                let wait = (at - Utc::now()).to_std().unwrap_or_default();
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    _ = generations.wait_for(|g| *g != generation) => return,
                }
                match controller.delete_if_expired(&key).await {
                    Ok(None) => return,
                    Ok(Some(later)) => at = later,
                    Err(ControllerError::Store(e)) if !e.is_retryable() => {
                        warn!(workflow = %key, error = %e, "the expired run cannot be deleted; it stays");
                        return;
                    }
                    Err(e) => {
                        warn!(workflow = %key, error = %e, "cannot delete the expired run yet; trying again");
                        at = Utc::now() + chrono::Duration::from_std(pause).unwrap_or_default();
                        pause = (pause * 2).min(Duration::from_secs(30));
                    }
                }
            }
        });
    }

    /// Deletes the run if its `ttlStrategy` says it is due now. `Some(t)`: not yet, due at `t`.
    async fn delete_if_expired(
        &self,
        key: &ObjectKey,
    ) -> Result<Option<chrono::DateTime<Utc>>, ControllerError> {
        for _ in 0..8 {
            let Some(object) = self.shared.store.get(key).await? else {
                return Ok(None);
            };
            let state = match record::from_object(&object) {
                Ok(state) => state,
                Err(e) => {
                    warn!(workflow = %key, error = %e, "the run cannot be read; its ttlStrategy is not applied");
                    return Ok(None);
                }
            };
            let Some(at) = switchyard_engine::ttl::expires_at(&state.spec, &state.status) else {
                return Ok(None);
            };
            if at > Utc::now() {
                return Ok(Some(at));
            }
            match self
                .shared
                .store
                .delete(key, Precondition::ResourceVersion(object.resource_version))
                .await
            {
                Ok(Some(deleted)) => {
                    if let Some(phase) = record::stored_phase(&deleted) {
                        metrics::run_removed(phase);
                    }
                    info!(workflow = %key, phase = state.status.phase.as_str(), "run deleted: its ttlStrategy expired");
                    self.forget_deleted(key).await;
                    return Ok(None);
                }
                Ok(None) => return Ok(None),
                // Written meanwhile: look again.
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Some(Utc::now() + chrono::Duration::seconds(1)))
    }

    pub fn runner(&self) -> &Arc<dyn StepRunner> {
        &self.shared.runner
    }

    /// Runs that have an actor in this process now.
    pub fn active_runs(&self) -> usize {
        lock(&self.shared.actors).len()
    }

    /// [`Controller::active_runs`], told on every change.
    pub fn watch_active_runs(&self) -> watch::Receiver<usize> {
        self.shared.active.subscribe()
    }

    /// A run stored before runs kept the labels of their node gets this node's: without
    /// them, a pod with any `nodeSelector` would wait for a node forever.
    fn with_node_labels(&self, mut state: RunState) -> RunState {
        if state.library.node_labels.is_empty() && !state.status.phase.is_finished() {
            state.library.node_labels = self.shared.config.node_labels.clone();
        }
        state
    }

    fn spawn_recovered(&self, state: RunState, resource_version: u64) {
        let initial = restart_actions(&state);
        let pending = state.status.phase == WorkflowPhase::Pending;
        let tx = self.spawn(state, resource_version, initial);
        if pending {
            metrics::enqueued();
            let _ = tx.send(Msg::command(Command::Submit, None));
        }
    }

    fn spawn(
        &self,
        state: RunState,
        resource_version: u64,
        initial: Vec<switchyard_engine::Action>,
    ) -> mpsc::UnboundedSender<Msg> {
        let (tx, rx) = mpsc::unbounded_channel();
        let key = run_key(&state);
        {
            let mut actors = lock(&self.shared.actors);
            actors.insert(key, tx.clone());
            self.shared.active.send_replace(actors.len());
        }
        let actor = RunActor::new(state, resource_version, self.shared.clone(), rx, tx.clone());
        tokio::spawn(actor.run(initial));
        tx
    }

    /// The mailbox of a run, starting its actor from the store if it has none.
    async fn mailbox(
        &self,
        key: &ObjectKey,
    ) -> Result<mpsc::UnboundedSender<Msg>, ControllerError> {
        if let Some(tx) = lock(&self.shared.actors).get(key) {
            return Ok(tx.clone());
        }
        let object = self.stored(key).await?;
        let state = self.with_node_labels(record::from_object(&object)?);
        // Another caller may have started it meanwhile.
        if let Some(tx) = lock(&self.shared.actors).get(key) {
            return Ok(tx.clone());
        }
        Ok(self.spawn(state, object.resource_version, Vec::new()))
    }

    /// The stored object of a run.
    pub(crate) async fn stored(&self, key: &ObjectKey) -> Result<StoredObject, ControllerError> {
        self.shared
            .store
            .get(key)
            .await?
            .ok_or_else(|| not_found(key))
    }

    /// Applies a command to a run and returns once its effect is durable.
    pub async fn command(&self, key: &ObjectKey, cmd: Command) -> Result<(), ControllerError> {
        if let Some(inbox) = self.inbox() {
            let user = UserCommand::from_command(&cmd).ok_or_else(|| {
                ControllerError::Unavailable(
                    "only the process driving the runs applies this command".to_owned(),
                )
            })?;
            // The run must exist here too: a missing one is a 404 without a round trip.
            self.stored(key).await?;
            return inbox.command(key, user).await;
        }
        for _ in 0..4 {
            let tx = self.mailbox(key).await?;
            let (reply, answer) = oneshot::channel();
            metrics::enqueued();
            if tx.send(Msg::command(cmd.clone(), Some(reply))).is_err() {
                continue;
            }
            match answer.await {
                Ok(result) => return result,
                // The actor was leaving; ask a new one.
                Err(_) => continue,
            }
        }
        Err(ControllerError::ShuttingDown)
    }

    /// Submits a Workflow (checked against the templates it refers to) and starts it.
    pub async fn submit(
        &self,
        namespace: &str,
        mut workflow: Workflow,
        options: SubmitOptions,
    ) -> Result<Submitted, ControllerError> {
        apply_options(&mut workflow, &options);
        let mut library = library::gather(
            self.shared.store.as_ref(),
            namespace,
            &workflow,
            &options.overlay,
        )
        .await?;
        library.image_entrypoints = self.shared.config.image_entrypoints.clone();
        library.node_labels = self.shared.config.node_labels.clone();
        let explicit = options
            .name
            .clone()
            .or_else(|| workflow.metadata.name.clone());
        let prefix = options
            .generate_name
            .clone()
            .or_else(|| workflow.metadata.generate_name.clone());
        if explicit.is_none() && prefix.is_none() {
            return Err(ControllerError::invalid(
                "metadata",
                "the Workflow needs `metadata.name` or `metadata.generateName`",
            ));
        }
        for _ in 0..NAME_ATTEMPTS {
            let name = match &explicit {
                Some(n) => n.clone(),
                None => rules::generated_name(prefix.as_deref().unwrap_or_default()),
            };
            let mut state = submit(&name, namespace, "", &workflow, library.clone(), Utc::now())?;
            let body =
                record::new_object(&state, &workflow.spec).map_err(|e| StoreError::Internal {
                    reason: format!("cannot serialize the run: {e}"),
                })?;
            if options.dry_run {
                let object = StoredObject {
                    kind: Kind::Workflow,
                    namespace: namespace.to_string(),
                    name: name.clone(),
                    uid: String::new(),
                    resource_version: 0,
                    created_at: Utc::now(),
                    body,
                };
                return Ok(Submitted { object });
            }
            let put = PutRequest::new(Kind::Workflow, namespace, name.clone(), body)
                .with_precondition(Precondition::MustNotExist);
            let object = match self.shared.store.put(put).await {
                Ok(outcome) => outcome.into_object(),
                Err(StoreError::AlreadyExists { .. }) if explicit.is_none() => continue,
                Err(e) if e.is_retryable() => {
                    // The write may have been committed all the same (the connection broke
                    // while committing): the caller hears it failed, and a run stored this
                    // way would have no actor. Look again once the store answers.
                    self.drive_if_stored(ObjectKey::new(Kind::Workflow, namespace, name));
                    return Err(e.into());
                }
                Err(e) => return Err(e.into()),
            };
            state.uid = object.uid.clone();
            metrics::phase_changed(None, WorkflowPhase::Pending);
            info!(run = %name, %namespace, uid = %object.uid, "run submitted");
            if let Some(inbox) = self.inbox() {
                hand_over(inbox, object.key());
                return Ok(Submitted { object });
            }
            let tx = self.spawn(state, object.resource_version, Vec::new());
            metrics::enqueued();
            let _ = tx.send(Msg::command(Command::Submit, None));
            return Ok(Submitted { object });
        }
        Err(StoreError::AlreadyExists {
            key: ObjectKey::new(Kind::Workflow, namespace, prefix.unwrap_or_default()),
        }
        .into())
    }

    /// Deletes a run: its running steps are stopped, then the object and its logs go.
    pub async fn delete(&self, key: &ObjectKey) -> Result<Option<StoredObject>, ControllerError> {
        let deleted = self.shared.store.delete(key, Precondition::None).await?;
        let Some(object) = deleted else {
            return Ok(None);
        };
        if let Some(phase) = record::stored_phase(&object) {
            metrics::run_removed(phase);
        }
        if let Some(inbox) = self.inbox() {
            if let Err(e) = inbox.deleted(key).await {
                // The driving process finds the run gone at its next write and stops it.
                warn!(workflow = %key, error = %e, "the process driving the run was not told it was deleted");
            }
            return Ok(Some(object));
        }
        self.forget_deleted(key).await;
        Ok(Some(object))
    }

    /// A run was deleted from the store (here or by another process): its actor, if it has
    /// one here, stops its running steps and ends.
    pub async fn forget_deleted(&self, key: &ObjectKey) {
        let tx = lock(&self.shared.actors).get(key).cloned();
        if let Some(tx) = tx {
            let (reply, done) = oneshot::channel();
            if tx.send(Msg::Deleted { reply }).is_ok() {
                let _ = done.await;
            }
        }
    }

    /// A Workflow that runs a (Cluster)WorkflowTemplate or a CronWorkflow's spec, as
    /// `argo submit --from` builds it.
    pub async fn workflow_from(
        &self,
        namespace: &str,
        kind: Kind,
        name: &str,
    ) -> Result<Workflow, ControllerError> {
        let ns = if kind.namespaced() { namespace } else { "" };
        let key = ObjectKey::new(kind, ns, name);
        let object = self
            .shared
            .store
            .get(&key)
            .await?
            .ok_or_else(|| ControllerError::invalid("from", format!("{key} not found")))?;
        let mut wf = Workflow {
            api_version: "argoproj.io/v1alpha1".into(),
            kind: "Workflow".into(),
            ..Default::default()
        };
        wf.metadata.generate_name = Some(format!("{name}-"));
        match kind {
            Kind::WorkflowTemplate | Kind::ClusterWorkflowTemplate => {
                let label = if kind == Kind::WorkflowTemplate {
                    "workflows.argoproj.io/workflow-template"
                } else {
                    "workflows.argoproj.io/cluster-workflow-template"
                };
                wf.metadata.labels.insert(label.into(), name.into());
                wf.spec.workflow_template_ref = Some(WorkflowTemplateRef {
                    name: Some(name.into()),
                    cluster_scope: (kind == Kind::ClusterWorkflowTemplate).then_some(true),
                });
            }
            Kind::CronWorkflow => {
                let spec = object
                    .body
                    .pointer("/spec/workflowSpec")
                    .cloned()
                    .unwrap_or_default();
                wf.spec = serde_json::from_value(spec).map_err(|e| StoreError::Corrupt {
                    what: format!("{key}: spec.workflowSpec: {e}"),
                })?;
                wf.metadata
                    .labels
                    .insert("workflows.argoproj.io/cron-workflow".into(), name.into());
            }
            other => {
                return Err(ControllerError::invalid(
                    "from",
                    format!(
                        "cannot submit from a {other}; use workflowtemplate/NAME, clusterworkflowtemplate/NAME or cronworkflow/NAME"
                    ),
                ));
            }
        }
        Ok(wf)
    }

    /// The Workflow to submit again for `resubmit`: the stored run's spec and labels, with
    /// parameters overridden.
    pub async fn resubmit_source(&self, key: &ObjectKey) -> Result<Workflow, ControllerError> {
        let object = self.stored(key).await?;
        let spec = object.body.get("spec").cloned().unwrap_or_default();
        let mut wf = Workflow {
            api_version: "argoproj.io/v1alpha1".into(),
            kind: "Workflow".into(),
            spec: serde_json::from_value(spec).map_err(|e| StoreError::Corrupt {
                what: format!("{key}: spec: {e}"),
            })?,
            ..Default::default()
        };
        wf.metadata.labels = object
            .body
            .pointer("/metadata/labels")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        wf.metadata.labels.insert(
            "workflows.argoproj.io/resubmitted-from-workflow".into(),
            key.name.clone(),
        );
        let base = key
            .name
            .rsplit_once('-')
            .map_or(key.name.as_str(), |(b, _)| b);
        wf.metadata.generate_name = Some(format!("{base}-"));
        Ok(wf)
    }
}

fn run_key(state: &RunState) -> ObjectKey {
    ObjectKey::new(Kind::Workflow, state.namespace.clone(), state.name.clone())
}

fn not_found(key: &ObjectKey) -> ControllerError {
    ControllerError::NotFound {
        namespace: key.namespace.clone(),
        name: key.name.clone(),
    }
}

/// Applies `-p`, `--entrypoint` and labels to the Workflow being submitted.
fn apply_options(workflow: &mut Workflow, options: &SubmitOptions) {
    for (name, value) in &options.parameters {
        let params = &mut workflow.spec.arguments.parameters;
        match params.iter_mut().find(|p| &p.name == name) {
            Some(p) => {
                p.value = Some(value.clone().into());
                p.value_from = None;
            }
            None => params.push(Parameter {
                name: name.clone(),
                value: Some(value.clone().into()),
                ..Default::default()
            }),
        }
    }
    if let Some(e) = &options.entrypoint {
        workflow.spec.entrypoint = Some(e.clone());
    }
    for (k, v) in &options.labels {
        workflow.metadata.labels.insert(k.clone(), v.clone());
    }
}

/// Hands a run stored here to the process driving the runs, trying again in the background
/// while the inbox cannot take it (the run is stored already: the caller's answer does not
/// wait for this). If this process dies before it succeeds, the next process to take the
/// controller lease finds the run among the unfinished ones.
fn hand_over(inbox: Arc<dyn RunInbox>, key: ObjectKey) {
    tokio::spawn(async move {
        let mut delay = Duration::from_millis(200);
        loop {
            match inbox.adopt(&key).await {
                Ok(()) => return,
                Err(e) => {
                    warn!(workflow = %key, error = %e, "the run was not handed to the process driving the runs; trying again");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
            }
        }
    });
}
