//! What each command does: read local input, call the server (or not), print the result.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;
use switchyard_api::{ApplyRequest, ObjectList, SourceText, list_path, object_path, object_ref};
use switchyard_manifest::{Limits, Source, read_sources};
use switchyard_model::{DEFAULT_NAMESPACE, Diagnostic, Kind};
use switchyard_server::ServerConfig;
use switchyard_server::config::ADMIN_TOKEN_FILE;

use crate::cli::{
    ApplyArgs, Cli, Command, DeleteArgs, GetArgs, LintArgs, NodeCommand, OutputFormat, UpArgs,
};
use crate::client::{Client, TokenSource};
use crate::error::CliError;
use crate::output::{self, counted};
use crate::workflows;

pub fn run(cli: Cli) -> Result<(), CliError> {
    let Cli {
        server,
        token,
        data_dir,
        log_format: _,
        command,
    } = cli;
    let data_dir = data_dir.or_else(default_data_dir);
    match command {
        Command::Version => {
            println!("switchyard {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Lint(args) => lint(&args),
        Command::Up(args) => {
            let data_dir = data_dir.ok_or_else(|| {
                CliError::Usage(
                    "cannot choose a data directory: neither XDG_DATA_HOME nor HOME is set; \
                     pass --data-dir or set SWITCHYARD_DATA_DIR"
                        .to_owned(),
                )
            })?;
            runtime()?.block_on(up(data_dir, &args))
        }
        Command::Apply(args) => {
            let client = connect(&server, token, data_dir.as_deref())?;
            runtime()?.block_on(apply(&client, args))
        }
        Command::Get(args) => {
            let client = connect(&server, token, data_dir.as_deref())?;
            runtime()?.block_on(get(&client, args))
        }
        Command::Delete(args) => {
            let client = connect(&server, token, data_dir.as_deref())?;
            runtime()?.block_on(delete(&client, &args))
        }
        Command::Submit(args) => {
            let client = connect(&server, token, data_dir.as_deref())?;
            runtime()?.block_on(workflows::submit(&client, args))
        }
        Command::List(args) => {
            let client = connect(&server, token, data_dir.as_deref())?;
            runtime()?.block_on(workflows::list(&client, args))
        }
        Command::Watch(args) => {
            let client = connect(&server, token, data_dir.as_deref())?;
            runtime()?.block_on(workflows::watch(&client, args))
        }
        Command::Wait(args) => {
            let client = connect(&server, token, data_dir.as_deref())?;
            runtime()?.block_on(workflows::wait(&client, args))
        }
        Command::Order(args) => {
            let client = connect(&server, token, data_dir.as_deref())?;
            runtime()?.block_on(crate::orders::order(&client, args))
        }
        Command::Orders(command) => {
            let client = connect(&server, token, data_dir.as_deref())?;
            runtime()?.block_on(crate::orders::orders(&client, command))
        }
        Command::Approve(args) => {
            let client = connect(&server, token, data_dir.as_deref())?;
            runtime()?.block_on(crate::orders::decide(&client, args, true))
        }
        Command::Reject(args) => {
            let client = connect(&server, token, data_dir.as_deref())?;
            runtime()?.block_on(crate::orders::decide(&client, args, false))
        }
        Command::Token(command) => {
            let client = connect(&server, token, data_dir.as_deref())?;
            runtime()?.block_on(crate::orders::token(&client, command))
        }
        Command::Events(args) => {
            let client = connect(&server, token, data_dir.as_deref())?;
            runtime()?.block_on(crate::events::events(&client, args))
        }
        Command::Logs(args) => {
            let client = connect(&server, token, data_dir.as_deref())?;
            if let Some((kind, name)) = args.name.split_once('/') {
                let kind = kind.to_owned();
                let name = name.to_owned();
                runtime()?.block_on(crate::events::object_logs(&client, &kind, &name, args))
            } else {
                runtime()?.block_on(workflows::logs(&client, args))
            }
        }
        Command::Suspend(args) => {
            let client = connect(&server, token, data_dir.as_deref())?;
            runtime()?.block_on(workflows::suspend(&client, args))
        }
        Command::Resume(args) => {
            let client = connect(&server, token, data_dir.as_deref())?;
            runtime()?.block_on(workflows::resume(&client, args))
        }
        Command::Stop(args) => {
            let client = connect(&server, token, data_dir.as_deref())?;
            runtime()?.block_on(workflows::stop(&client, args))
        }
        Command::Terminate(args) => {
            let client = connect(&server, token, data_dir.as_deref())?;
            runtime()?.block_on(workflows::terminate(&client, args))
        }
        Command::Retry(args) => {
            let client = connect(&server, token, data_dir.as_deref())?;
            runtime()?.block_on(workflows::retry(&client, args))
        }
        Command::Resubmit(args) => {
            let client = connect(&server, token, data_dir.as_deref())?;
            runtime()?.block_on(workflows::resubmit(&client, args))
        }
        Command::Node(NodeCommand::Set(args)) => {
            let client = connect(&server, token, data_dir.as_deref())?;
            runtime()?.block_on(workflows::node_set(&client, args))
        }
        // `main` runs the step supervisor before logging starts; it never gets here.
        Command::Step(args) => Err(CliError::Usage(format!(
            "`__step {}` is run by `switchyard up` for each workflow step",
            args.dir.display()
        ))),
        // `main` runs argosay before logging starts, as it does `__step`.
        Command::Argosay(_) => Err(CliError::Usage(
            "`__argosay` is run by workflow steps that use the image `argoproj/argosay`".into(),
        )),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Internal(format!("cannot start the async runtime: {e}")))
}

/// `$XDG_DATA_HOME/switchyard`, else `~/.local/share/switchyard`.
fn default_data_dir() -> Option<PathBuf> {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").and_then(absolute) {
        return Some(xdg.join("switchyard"));
    }
    std::env::var_os("HOME")
        .and_then(absolute)
        .map(|home| home.join(".local").join("share").join("switchyard"))
}

/// The token to send: `--token`/`SWITCHYARD_TOKEN`, else the admin token file.
fn resolve_token(token: Option<String>, data_dir: Option<&Path>) -> (Option<String>, TokenSource) {
    if let Some(token) = token.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) {
        return (Some(token), TokenSource::Given);
    }
    let Some(dir) = data_dir else {
        return (None, TokenSource::Missing(None));
    };
    let path = dir.join(ADMIN_TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => {
            (Some(text.trim().to_owned()), TokenSource::File(path))
        }
        Ok(_) => (None, TokenSource::Missing(Some(path))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            (None, TokenSource::Missing(Some(path)))
        }
        Err(e) => {
            eprintln!(
                "warning: cannot read the token file {}: {e}; continuing without a token",
                path.display()
            );
            (None, TokenSource::Missing(Some(path)))
        }
    }
}

fn connect(
    server: &str,
    token: Option<String>,
    data_dir: Option<&Path>,
) -> Result<Client, CliError> {
    let (token, source) = resolve_token(token, data_dir);
    Client::new(server, token, source)
}

/// Resolves a kind as typed on the command line, or a usage error listing every kind.
fn parse_kind(input: &str) -> Result<Kind, CliError> {
    Kind::parse(input).ok_or_else(|| {
        let known: Vec<String> = Kind::ALL
            .iter()
            .map(|k| match k.short_names() {
                [] => k.plural().to_owned(),
                short => format!("{} ({})", k.plural(), short.join(", ")),
            })
            .collect();
        CliError::Usage(format!(
            "unknown kind `{input}`; Switchyard knows {}",
            known.join(", ")
        ))
    })
}

pub(crate) fn print_diagnostics(diagnostics: &[Diagnostic]) {
    let mut err = std::io::stderr().lock();
    for d in diagnostics {
        let _ = writeln!(err, "{d}");
    }
}

async fn up(data_dir: PathBuf, args: &UpArgs) -> Result<(), CliError> {
    let mut config = ServerConfig::new(data_dir);
    config.listen = args.listen;
    config.rotate_admin_token = args.rotate_admin_token;
    config.max_parallel_steps = usize::from(args.max_parallel_steps);
    config.steps_dir = args.steps_dir.clone();
    config.stop_grace = std::time::Duration::from_secs(args.stop_grace);
    config.image_entrypoints = args.image_entrypoints.iter().cloned().collect();
    config.image_tools = args.image_tools.clone();
    config.webhook_host = args.webhook_host;
    config.http_trigger_allow = args.http_trigger_allow.clone();
    config.node_labels = args.node_labels.iter().cloned().collect();
    config.max_event_backlog = args.max_event_backlog;
    config.max_active_runs = args.max_active_runs;
    config.roles = switchyard_server::Roles::NONE;
    for role in &args.roles {
        config.roles.add(role).map_err(CliError::Usage)?;
    }
    config.postgres = args
        .database
        .as_ref()
        .map(|url| switchyard_server::PostgresBackend {
            url: url.clone(),
            schema: args.database_schema.clone(),
        });
    config.jetstream = args
        .nats
        .as_ref()
        .map(|url| switchyard_server::JetStreamBackend {
            url: url.clone(),
            stream: args.nats_stream.clone(),
        });
    config.platform = if let Some(dir) = &args.platform {
        let sources = read_local(std::slice::from_ref(dir), &Limits::default())?;
        if sources.is_empty() {
            return Err(CliError::Usage(format!(
                "--platform {}: no manifests there (*.yaml, *.yml, *.json)",
                dir.display()
            )));
        }
        Some(switchyard_server::Platform {
            origin: format!("the platform in {}", dir.display()),
            sources: sources
                .into_iter()
                .map(|s| SourceText {
                    name: s.name,
                    content: s.text,
                })
                .collect(),
            every_start: true,
        })
    } else if args.no_platform {
        None
    } else {
        Some(switchyard_server::Platform {
            origin: "the bundled platform".to_owned(),
            sources: crate::platform::bundled(),
            every_start: false,
        })
    };
    switchyard_server::run(config, switchyard_server::shutdown_signal())
        .await
        .map_err(|e| match e {
            switchyard_server::Error::Listen { .. }
            | switchyard_server::Error::Platform(_)
            | switchyard_server::Error::Lease(_) => CliError::Rejected(e.to_string()),
            switchyard_server::Error::Roles(m) => CliError::Usage(m),
            other => CliError::Internal(other.to_string()),
        })
}

pub(crate) fn read_local(files: &[PathBuf], limits: &Limits) -> Result<Vec<Source>, CliError> {
    read_sources(files, limits).map_err(|diagnostics| {
        print_diagnostics(&diagnostics);
        CliError::Reported(format!(
            "error: cannot read the manifests ({})",
            counted(diagnostics.len(), "problem", "problems")
        ))
    })
}

async fn apply(client: &Client, args: ApplyArgs) -> Result<(), CliError> {
    let sources = read_local(&args.files, &Limits::default())?;
    if sources.is_empty() {
        return Err(CliError::Rejected(
            "no manifests found (directories are searched for *.yaml, *.yml and *.json)".to_owned(),
        ));
    }
    let request = ApplyRequest {
        sources: sources
            .into_iter()
            .map(|s| SourceText {
                name: s.name,
                content: s.text,
            })
            .collect(),
        namespace: args.namespace,
        dry_run: args.dry_run,
    };
    let response = client.apply(&request).await?;
    print_diagnostics(&response.diagnostics);
    if response.results.is_empty() {
        return Err(CliError::Rejected("no objects passed to apply".to_owned()));
    }
    let suffix = if response.dry_run { " (dry run)" } else { "" };
    let mut out = std::io::stdout().lock();
    for result in &response.results {
        let _ = writeln!(out, "{} {}{suffix}", result.object_ref(), result.action);
    }
    Ok(())
}

async fn get(client: &Client, args: GetArgs) -> Result<(), CliError> {
    let kind = parse_kind(&args.kind)?;
    let namespace = args.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE);
    let format = args.output;
    if kind == Kind::Order {
        // Orders have their own view (phase, runs, approvals) and are found by id alone.
        return Err(CliError::Usage(
            "orders are listed with `switchyard orders list` and shown with `switchyard orders get ID`"
                .to_owned(),
        ));
    }
    if args.node_field_selector.is_some() && (kind != Kind::Workflow || args.name.is_none()) {
        return Err(CliError::Usage(
            "--node-field-selector applies to one workflow: `get workflow NAME --node-field-selector ...`"
                .to_owned(),
        ));
    }
    if kind == Kind::Workflow && matches!(format, None | Some(OutputFormat::Wide)) {
        let wide = format == Some(OutputFormat::Wide);
        return match &args.name {
            Some(_) if args.all_namespaces => Err(CliError::Usage(
                "a single object cannot be fetched across all namespaces; drop -A (use -n NS)"
                    .to_owned(),
            )),
            Some(name) => {
                workflows::get_view(
                    client,
                    namespace,
                    name,
                    wide,
                    args.node_field_selector.as_deref(),
                )
                .await
            }
            None => {
                workflows::get_table(client, (!args.all_namespaces).then_some(namespace), wide)
                    .await
            }
        };
    }
    let now = chrono::Utc::now();
    let text = match &args.name {
        Some(name) => {
            if args.all_namespaces {
                return Err(CliError::Usage(
                    "a single object cannot be fetched across all namespaces; drop -A (use -n NS)"
                        .to_owned(),
                ));
            }
            let object: Value = client
                .get(&object_path(kind, namespace, name), args.show_secrets)
                .await?;
            match format {
                Some(OutputFormat::Yaml) => output::to_yaml(&object)?,
                Some(OutputFormat::Json) => output::to_json(&object)?,
                Some(OutputFormat::Name) => format!("{}\n", object_ref(kind, name)),
                Some(OutputFormat::Wide) | None => output::table(
                    kind,
                    std::slice::from_ref(&object),
                    false,
                    format == Some(OutputFormat::Wide),
                    now,
                ),
            }
        }
        None => {
            let across = args.all_namespaces || !kind.namespaced();
            let path = list_path(kind, (!across).then_some(namespace));
            let list: ObjectList = client
                .list(&path, args.show_secrets, crate::client::LIST_CHUNK)
                .await?;
            match format {
                Some(OutputFormat::Yaml) => output::to_yaml(&list)?,
                Some(OutputFormat::Json) => output::to_json(&list)?,
                _ if list.items.is_empty() => {
                    if across {
                        eprintln!("No resources found");
                    } else {
                        eprintln!("No resources found in {namespace} namespace.");
                    }
                    String::new()
                }
                Some(OutputFormat::Name) => list
                    .items
                    .iter()
                    .filter_map(|o| o.pointer("/metadata/name").and_then(Value::as_str))
                    .map(|name| format!("{}\n", object_ref(kind, name)))
                    .collect(),
                Some(OutputFormat::Wide) | None => output::table(
                    kind,
                    &list.items,
                    args.all_namespaces && kind.namespaced(),
                    format == Some(OutputFormat::Wide),
                    now,
                ),
            }
        }
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(())
}

async fn delete(client: &Client, args: &DeleteArgs) -> Result<(), CliError> {
    let kind = parse_kind(&args.kind)?;
    let namespace = args.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE);
    let _: Value = client
        .delete(&object_path(kind, namespace, &args.name))
        .await?;
    println!("{} deleted", object_ref(kind, &args.name));
    Ok(())
}

fn lint(args: &LintArgs) -> Result<(), CliError> {
    let limits = Limits::default();
    let sources = read_local(&args.files, &limits)?;
    // Offline: objects outside the given files cannot be checked, so they are assumed to exist.
    let checked = switchyard_server::apply::check(
        &sources,
        &limits,
        args.namespace.as_deref(),
        &|_, _, _| true,
    );
    print_diagnostics(&checked.diagnostics);
    let errors = checked.error_count();
    let summary = format!(
        "{}, {}, {}",
        counted(checked.objects.len(), "object", "objects"),
        counted(errors, "error", "errors"),
        counted(checked.warning_count(), "warning", "warnings")
    );
    if errors > 0 {
        Err(CliError::Reported(summary))
    } else {
        eprintln!("{summary}");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_or_list_every_kind() {
        assert_eq!(parse_kind("sn").unwrap(), Kind::Sensor);
        let err = parse_kind("pods").unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown kind `pods`; Switchyard knows eventbus (eb, eventbuses), eventsources (es), \
             sensors (sn), workflows (wf), workflowtemplates (wftmpl), \
             clusterworkflowtemplates (clusterwftmpl, cwft), cronworkflows (cwf, cronwf), \
             secrets, configmaps (cm), offerings, orders"
        );
    }

    #[test]
    fn token_precedence() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(ADMIN_TOKEN_FILE);

        let (t, s) = resolve_token(None, Some(dir.path()));
        assert_eq!(t, None);
        assert!(matches!(s, TokenSource::Missing(Some(p)) if p == file));

        std::fs::write(&file, "syd_file\n").unwrap();
        let (t, s) = resolve_token(None, Some(dir.path()));
        assert_eq!(t.as_deref(), Some("syd_file"));
        assert!(matches!(s, TokenSource::File(p) if p == file));

        let (t, s) = resolve_token(Some(" syd_flag ".into()), Some(dir.path()));
        assert_eq!(t.as_deref(), Some("syd_flag"));
        assert!(matches!(s, TokenSource::Given));

        let (t, _) = resolve_token(Some("".into()), Some(dir.path()));
        assert_eq!(t.as_deref(), Some("syd_file"));

        let (t, s) = resolve_token(None, None);
        assert_eq!(t, None);
        assert!(matches!(s, TokenSource::Missing(None)));
    }
}
