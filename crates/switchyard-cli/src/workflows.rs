//! The commands on workflow runs: `submit`, `list`, `get workflow(s)`, `watch`, `wait`, `logs`,
//! `suspend`, `resume`, `stop`, `terminate`, `retry`, `resubmit` and `node set`. Each reads
//! its arguments, calls the server, and prints with [`crate::view`] and [`crate::logs`].

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;
use switchyard_api::{
    LogEntry, LogQuery, ObjectList, RunAction, RunActionRequest, SourceText, SubmitRequest,
    list_path, object_path, workflows_path,
};
use switchyard_engine::NodeFilter;
use switchyard_manifest::Limits;
use switchyard_model::{DEFAULT_NAMESPACE, Kind};

use crate::cli::{
    FollowArgs, ListArgs, LogsArgs, NodeSetArgs, OutputFormat, ResubmitArgs, ResumeArgs, RetryArgs,
    RunNames, StopArgs, SubmitArgs, SuspendArgs, TerminateArgs, WaitArgs, WatchArgs,
};
use crate::client::Client;
use crate::error::CliError;
use crate::logs::{LogPrinter, LogStyle};
use crate::output;
use crate::run::{Run, RunFilter, local_offset, run_order};
use crate::view::{Paint, ViewOptions, list_table, run_view};

/// How often `watch` and `wait` read the run again.
const POLL_EVERY: Duration = Duration::from_secs(1);

/// How long `watch` and `wait` keep trying while the server cannot be reached (it may be
/// restarting; runs carry on across a restart).
const OUTAGE_LIMIT: Duration = Duration::from_secs(60);

fn namespace_or_default(namespace: Option<&str>) -> &str {
    namespace.unwrap_or(DEFAULT_NAMESPACE)
}

/// Whether to use colors: stdout is a terminal, `NO_COLOR` is unset and `TERM` is not `dumb`.
pub fn color_enabled() -> bool {
    std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

/// Writes to stdout; false when stdout is gone (e.g. the reader of a pipe exited).
fn emit(text: &str) -> bool {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).is_ok() && out.flush().is_ok()
}

fn view_options(wide: bool, selector: Option<&str>) -> Result<ViewOptions, CliError> {
    let filter = selector
        .map(NodeFilter::parse)
        .transpose()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(ViewOptions {
        wide,
        paint: Paint {
            enabled: color_enabled(),
        },
        filter,
        tz: local_offset(),
    })
}

async fn fetch_run(client: &Client, namespace: &str, name: &str) -> Result<(Run, Value), CliError> {
    let object: Value = client
        .get(&object_path(Kind::Workflow, namespace, name), false)
        .await?;
    Ok((Run::from_value(&object), object))
}

/// Reads a run again and again, riding out a server that is briefly unreachable or busy.
struct Poller<'a> {
    client: &'a Client,
    namespace: &'a str,
    name: &'a str,
    outage_since: Option<Instant>,
}

impl<'a> Poller<'a> {
    fn new(client: &'a Client, namespace: &'a str, name: &'a str) -> Self {
        Poller {
            client,
            namespace,
            name,
            outage_since: None,
        }
    }

    async fn next(&mut self) -> Result<Run, CliError> {
        loop {
            match fetch_run(self.client, self.namespace, self.name).await {
                Ok((run, _)) => {
                    if self.outage_since.take().is_some() {
                        eprintln!("reached the server again");
                    }
                    if let Some(e) = &run.status_error {
                        return Err(CliError::Internal(format!(
                            "cannot read the status of workflow {} ({e}); are the CLI and server the same version?",
                            self.name
                        )));
                    }
                    return Ok(run);
                }
                Err(e @ (CliError::Unreachable { .. } | CliError::Server { status: 503, .. })) => {
                    let since = *self.outage_since.get_or_insert_with(|| {
                        eprintln!(
                            "warning: {e}; trying again for up to {}s",
                            OUTAGE_LIMIT.as_secs()
                        );
                        Instant::now()
                    });
                    if since.elapsed() > OUTAGE_LIMIT {
                        return Err(e);
                    }
                    tokio::time::sleep(POLL_EVERY).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Prints runs in the format asked for: their views (default and `wide`), bare names, or the
/// objects as JSON or YAML (one object, or a `List` of several).
fn print_runs(objects: &[Value], format: Option<OutputFormat>) -> Result<(), CliError> {
    let text = match format {
        Some(OutputFormat::Name) => objects
            .iter()
            .map(|o| format!("{}\n", Run::from_value(o).name))
            .collect(),
        Some(OutputFormat::Json) => match objects {
            [one] => output::to_json(one)?,
            many => output::to_json(&ObjectList::new(many.to_vec()))?,
        },
        Some(OutputFormat::Yaml) => match objects {
            [one] => output::to_yaml(one)?,
            many => output::to_yaml(&ObjectList::new(many.to_vec()))?,
        },
        Some(OutputFormat::Wide) | None => {
            let options = view_options(format == Some(OutputFormat::Wide), None)?;
            let now = Utc::now();
            objects
                .iter()
                .map(|o| run_view(&Run::from_value(o), now, &options))
                .collect::<Vec<_>>()
                .join("\n")
        }
    };
    emit(&text);
    Ok(())
}

/// `workflow NAME ended PHASE: MESSAGE` for every failed run, as one error.
fn failures(runs: &[Run]) -> Result<(), CliError> {
    let failed: Vec<String> = runs
        .iter()
        .filter(|r| r.failed())
        .map(|r| {
            let phase = r.phase().map_or("", |p| p.as_str());
            match r.message() {
                "" => format!("workflow {} ended {phase}", r.name),
                m => format!("workflow {} ended {phase}: {m}", r.name),
            }
        })
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::RunFailed(failed.join("; ")))
    }
}

/// After starting runs: `--log`, then `--wait` or `--watch`. Exit 1 if any run failed.
async fn follow_runs(
    client: &Client,
    namespace: &str,
    names: &[String],
    follow: &FollowArgs,
    wide: bool,
) -> Result<(), CliError> {
    if !follow.any() {
        return Ok(());
    }
    if follow.log {
        let style = LogStyle {
            prefix: true,
            timestamps: false,
            paint: Paint {
                enabled: color_enabled(),
            },
        };
        for name in names {
            stream_logs(client, namespace, name, None, true, style).await?;
        }
    }
    let mut ended = Vec::new();
    for name in names {
        let run = if follow.watch {
            watch_run(client, namespace, name, &view_options(wide, None)?).await?
        } else {
            let run = wait_for(client, namespace, name).await?;
            if follow.wait {
                print_ended(&run);
            }
            run
        };
        ended.push(run);
    }
    failures(&ended)
}

fn print_ended(run: &Run) {
    let phase = run.phase().map_or("", |p| p.as_str());
    let at = run.finished_at().map_or_else(String::new, |t| {
        format!(
            " at {}",
            t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    });
    emit(&format!("{} {phase}{at}\n", run.name));
}

/// Polls until the run ends.
async fn wait_for(client: &Client, namespace: &str, name: &str) -> Result<Run, CliError> {
    let mut poller = Poller::new(client, namespace, name);
    loop {
        let run = poller.next().await?;
        if run.finished() {
            return Ok(run);
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Shows the run's view until it ends: redrawn in place on a terminal, else printed again
/// whenever something changed.
async fn watch_run(
    client: &Client,
    namespace: &str,
    name: &str,
    options: &ViewOptions,
) -> Result<Run, CliError> {
    let terminal = std::io::stdout().is_terminal();
    let mut poller = Poller::new(client, namespace, name);
    let mut last: Option<String> = None;
    loop {
        let run = poller.next().await?;
        let view = run_view(&run, Utc::now(), options);
        if terminal {
            emit(&format!("\x1b[H\x1b[2J{view}"));
        } else {
            let key = run.change_key();
            if last.as_ref() != Some(&key) {
                let gap = if last.is_some() { "\n" } else { "" };
                if !emit(&format!("{gap}{view}")) {
                    return Ok(run);
                }
                last = Some(key);
            }
        }
        if run.finished() {
            return Ok(run);
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Prints a run's log lines as they come (see [`crate::logs`]).
async fn stream_logs(
    client: &Client,
    namespace: &str,
    name: &str,
    step: Option<String>,
    follow: bool,
    style: LogStyle,
) -> Result<(), CliError> {
    let (run, _) = fetch_run(client, namespace, name).await?;
    let mut printer = LogPrinter::new(style);
    if let Some(status) = &run.status {
        printer.learn(status);
    }
    if let Some(step) = &step
        && !follow
    {
        let found = run.status.as_ref().is_some_and(|s| {
            s.nodes
                .values()
                .any(|n| &n.id == step || &n.name == step || &n.display_name == step)
        });
        if !found {
            return Err(CliError::Rejected(format!(
                "workflow {name} has no step `{step}` (give a node id, node name or display name; \
                 `switchyard get workflow {name}` lists them)"
            )));
        }
    }
    let query = LogQuery { step, follow };
    let mut stream = client.run_logs(namespace, name, &query).await?;
    let mut looked_up: HashSet<String> = HashSet::new();
    let mut unreadable = 0usize;
    while let Some(line) = stream.next_line().await? {
        let entry: LogEntry = match serde_json::from_str(&line) {
            Ok(entry) => entry,
            Err(e) => {
                if unreadable == 0 {
                    eprintln!(
                        "warning: skipping log lines this CLI cannot read ({e}); are the CLI and server the same version?"
                    );
                }
                unreadable += 1;
                continue;
            }
        };
        // A step that started after the run was read: read it again for the step's name.
        if style.prefix
            && !printer.knows(&entry.node_id)
            && looked_up.insert(entry.node_id.clone())
            && let Ok((run, _)) = fetch_run(client, namespace, name).await
            && let Some(status) = &run.status
        {
            printer.learn(status);
        }
        let mut text = printer.format(&entry);
        text.push('\n');
        if !emit(&text) {
            return Ok(());
        }
    }
    if unreadable > 1 {
        eprintln!("warning: {unreadable} log lines were skipped");
    }
    Ok(())
}

pub async fn submit(client: &Client, args: SubmitArgs) -> Result<(), CliError> {
    let namespace = namespace_or_default(args.namespace.as_deref());
    let base = SubmitRequest {
        source: None,
        from: args.from.clone(),
        parameters: args.parameters.clone(),
        entrypoint: args.entrypoint.clone(),
        name: args.name.clone(),
        generate_name: args.generate_name.clone(),
        labels: args.labels.iter().cloned().collect(),
        dry_run: args.dry_run,
    };
    let requests: Vec<SubmitRequest> = if args.from.is_some() {
        vec![base]
    } else {
        let sources = crate::commands::read_local(&args.files, &Limits::default())?;
        if sources.is_empty() {
            return Err(CliError::Rejected(
                "no manifests found (directories are searched for *.yaml, *.yml and *.json)"
                    .to_owned(),
            ));
        }
        sources
            .into_iter()
            .map(|s| SubmitRequest {
                source: Some(SourceText {
                    name: s.name,
                    content: s.text,
                }),
                ..base.clone()
            })
            .collect()
    };
    // Several files are checked first, so that a mistake in the last submits none.
    if requests.len() > 1 && !args.dry_run {
        for request in &requests {
            let check = SubmitRequest {
                dry_run: true,
                ..request.clone()
            };
            client.submit(namespace, &check).await?;
        }
    }
    let mut created = Vec::new();
    for request in &requests {
        let response = client.submit(namespace, request).await?;
        crate::commands::print_diagnostics(&response.diagnostics);
        created.extend(response.items);
    }
    if created.is_empty() {
        return Err(CliError::Rejected(
            "the manifests hold no Workflow to submit (to run a WorkflowTemplate, use --from workflowtemplate/NAME)"
                .to_owned(),
        ));
    }
    let wide = args.output == Some(OutputFormat::Wide);
    let watch_shows_it =
        args.follow.watch && matches!(args.output, None | Some(OutputFormat::Wide));
    if !watch_shows_it {
        print_runs(&created, args.output)?;
    }
    if args.dry_run {
        eprintln!("dry run: nothing was submitted");
        return Ok(());
    }
    let names: Vec<String> = created.iter().map(|o| Run::from_value(o).name).collect();
    follow_runs(client, namespace, &names, &args.follow, wide).await
}

/// Reads the runs of a namespace (or every namespace), newest first.
async fn read_runs(
    client: &Client,
    namespace: Option<&str>,
    chunk: usize,
) -> Result<Vec<(Run, Value)>, CliError> {
    let path = match namespace {
        Some(ns) => workflows_path(ns),
        None => list_path(Kind::Workflow, None),
    };
    let list: ObjectList = client.list(&path, false, chunk).await?;
    let mut runs: Vec<(Run, Value)> = list
        .items
        .into_iter()
        .map(|o| (Run::from_value(&o), o))
        .collect();
    runs.sort_by(|a, b| run_order(&a.0, &b.0));
    Ok(runs)
}

pub async fn list(client: &Client, args: ListArgs) -> Result<(), CliError> {
    let namespace = namespace_or_default(args.namespace.as_deref());
    let across = args.all_namespaces;
    let runs = read_runs(client, (!across).then_some(namespace), args.chunk_size).await?;
    let now = Utc::now();
    let filter = RunFilter {
        running: args.running,
        completed: args.completed,
        phases: args.status,
        labels: args.selector,
        since: args.since,
        older: args.older,
    };
    let (runs, objects): (Vec<Run>, Vec<Value>) = runs
        .into_iter()
        .filter(|(run, _)| filter.matches(run, now))
        .unzip();
    let text = match args.output {
        Some(OutputFormat::Json) => output::to_json(&ObjectList::new(objects))?,
        Some(OutputFormat::Yaml) => output::to_yaml(&ObjectList::new(objects))?,
        _ if runs.is_empty() => {
            if across {
                eprintln!("No workflows found");
            } else {
                eprintln!("No workflows found in {namespace} namespace.");
            }
            String::new()
        }
        Some(OutputFormat::Name) => runs.iter().map(|r| format!("{}\n", r.name)).collect(),
        Some(OutputFormat::Wide) | None => {
            list_table(&runs, across, args.output == Some(OutputFormat::Wide), now)
        }
    };
    emit(&text);
    Ok(())
}

/// `get workflows` as a table: the same table as `list`.
pub async fn get_table(
    client: &Client,
    namespace: Option<&str>,
    wide: bool,
) -> Result<(), CliError> {
    let runs = read_runs(client, namespace, crate::client::LIST_CHUNK).await?;
    if runs.is_empty() {
        match namespace {
            Some(ns) => eprintln!("No resources found in {ns} namespace."),
            None => eprintln!("No resources found"),
        }
        return Ok(());
    }
    let runs: Vec<Run> = runs.into_iter().map(|(r, _)| r).collect();
    emit(&list_table(&runs, namespace.is_none(), wide, Utc::now()));
    Ok(())
}

/// `get workflow NAME` as a table: the run's view.
pub async fn get_view(
    client: &Client,
    namespace: &str,
    name: &str,
    wide: bool,
    selector: Option<&str>,
) -> Result<(), CliError> {
    let options = view_options(wide, selector)?;
    let (run, _) = fetch_run(client, namespace, name).await?;
    emit(&run_view(&run, Utc::now(), &options));
    Ok(())
}

pub async fn watch(client: &Client, args: WatchArgs) -> Result<(), CliError> {
    let namespace = namespace_or_default(args.namespace.as_deref());
    let options = view_options(false, args.node_field_selector.as_deref())?;
    let run = watch_run(client, namespace, &args.name, &options).await?;
    failures(std::slice::from_ref(&run))
}

pub async fn wait(client: &Client, args: WaitArgs) -> Result<(), CliError> {
    let namespace = namespace_or_default(args.runs.namespace.as_deref());
    let mut ended = Vec::new();
    for name in &args.runs.names {
        let run = wait_for(client, namespace, name).await?;
        print_ended(&run);
        ended.push(run);
    }
    failures(&ended)
}

pub async fn logs(client: &Client, args: LogsArgs) -> Result<(), CliError> {
    let namespace = namespace_or_default(args.namespace.as_deref());
    let style = LogStyle {
        prefix: !args.no_prefix,
        timestamps: args.timestamps,
        paint: Paint {
            enabled: !args.no_color && color_enabled(),
        },
    };
    stream_logs(client, namespace, &args.name, args.step, args.follow, style).await
}

/// Applies one action to each run in turn, printing `workflow NAME <done>` for each; stops at
/// the first the server refuses.
async fn act(
    client: &Client,
    runs: &RunNames,
    action: RunAction,
    request: RunActionRequest,
    done: &str,
) -> Result<(), CliError> {
    let namespace = namespace_or_default(runs.namespace.as_deref());
    for name in &runs.names {
        client.run_action(namespace, name, action, &request).await?;
        emit(&format!("workflow {name} {done}\n"));
    }
    Ok(())
}

pub async fn suspend(client: &Client, args: SuspendArgs) -> Result<(), CliError> {
    let request = RunActionRequest::default();
    act(client, &args.runs, RunAction::Suspend, request, "suspended").await
}

pub async fn resume(client: &Client, args: ResumeArgs) -> Result<(), CliError> {
    let request = RunActionRequest {
        node_field_selector: args.node_field_selector,
        message: args.message,
        ..Default::default()
    };
    act(client, &args.runs, RunAction::Resume, request, "resumed").await
}

pub async fn stop(client: &Client, args: StopArgs) -> Result<(), CliError> {
    let request = RunActionRequest {
        message: args.message,
        ..Default::default()
    };
    act(client, &args.runs, RunAction::Stop, request, "stopped").await
}

pub async fn terminate(client: &Client, args: TerminateArgs) -> Result<(), CliError> {
    let request = RunActionRequest::default();
    act(
        client,
        &args.runs,
        RunAction::Terminate,
        request,
        "terminated",
    )
    .await
}

pub async fn retry(client: &Client, args: RetryArgs) -> Result<(), CliError> {
    let namespace = namespace_or_default(args.namespace.as_deref());
    let request = RunActionRequest {
        node_field_selector: args.node_field_selector,
        restart_successful: args.restart_successful,
        ..Default::default()
    };
    let object = client
        .run_action(namespace, &args.name, RunAction::Retry, &request)
        .await?;
    show_started(client, namespace, object, &args.follow, args.output).await
}

pub async fn resubmit(client: &Client, args: ResubmitArgs) -> Result<(), CliError> {
    let namespace = namespace_or_default(args.namespace.as_deref());
    let request = RunActionRequest {
        parameters: args.parameters,
        ..Default::default()
    };
    let object = client
        .run_action(namespace, &args.name, RunAction::Resubmit, &request)
        .await?;
    show_started(client, namespace, object, &args.follow, args.output).await
}

/// Prints a run that `retry` or `resubmit` started, then follows it as asked.
async fn show_started(
    client: &Client,
    namespace: &str,
    object: Value,
    follow: &FollowArgs,
    format: Option<OutputFormat>,
) -> Result<(), CliError> {
    let wide = format == Some(OutputFormat::Wide);
    if !(follow.watch && matches!(format, None | Some(OutputFormat::Wide))) {
        print_runs(std::slice::from_ref(&object), format)?;
    }
    let name = Run::from_value(&object).name;
    follow_runs(client, namespace, &[name], follow, wide).await
}

pub async fn node_set(client: &Client, args: NodeSetArgs) -> Result<(), CliError> {
    let runs = RunNames {
        names: vec![args.name],
        namespace: args.namespace,
    };
    let request = RunActionRequest {
        node_field_selector: Some(args.node_field_selector),
        message: args.message,
        parameters: args.output_parameters,
        ..Default::default()
    };
    act(client, &runs, RunAction::Set, request, "values set").await
}
