//! A real `switchyard up` process for end-to-end tests: started on a free port with its own
//! data directory, reached over HTTP with its admin token, killed (SIGKILL) and started
//! again on the same data directory.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

pub struct Server {
    pub url: String,
    pub token: String,
    pub data_dir: PathBuf,
    child: Child,
}

/// A directory for a test's data, outside `/tmp` (steps under `/tmp` cannot get a private
/// `/tmp` of their own, and examples that write fixed `/tmp` paths in parallel would collide):
/// the target directory's scratch space, or `/var/tmp` when the checkout itself is under `/tmp`.
pub fn data_dir(name: &str) -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let target = std::fs::canonicalize(target).unwrap_or_else(|_| target.to_path_buf());
    let base = if target.starts_with("/tmp") {
        Path::new("/var/tmp").join("switchyard-tests")
    } else {
        target
    };
    let dir = base.join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Server {
    pub fn start(data_dir: &Path) -> Server {
        Server::start_with(data_dir, &[])
    }

    /// [`Server::start`] with more `up` arguments.
    pub fn start_with(data_dir: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(["up", "--listen", "127.0.0.1:0", "--log-format", "text"])
            // The bundled platform serves fixed ports; tests bring their own manifests.
            .args(if extra.contains(&"--platform") {
                &[][..]
            } else {
                &["--no-platform"][..]
            })
            .args(extra)
            .env("SWITCHYARD_DATA_DIR", data_dir)
            .env("SWITCHYARD_LOG", "info")
            .env_remove("SWITCHYARD_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut announced = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !announced && let Some(at) = line.find("listening on http://") {
                    let rest = &line[at + "listening on ".len()..];
                    let url = rest.split_whitespace().next().unwrap_or("").to_string();
                    let _ = tx.send(url);
                    announced = true;
                }
                if std::env::var_os("SWITCHYARD_TEST_SERVER_LOG").is_some() {
                    eprintln!("[server] {line}");
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!("`switchyard up` did not announce its address");
            }
        };
        let token = std::fs::read_to_string(data_dir.join("admin.token"))
            .unwrap()
            .trim()
            .to_string();
        Server {
            url,
            token,
            data_dir: data_dir.to_path_buf(),
            child,
        }
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn client(&self) -> Api {
        Api {
            http: reqwest::Client::new(),
            url: self.url.clone(),
            token: self.token.clone(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free port on 127.0.0.1 (for a webhook).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The control API, as a test uses it.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Api {
    /// The same server as another caller.
    pub fn with_token(&self, token: &str) -> Api {
        Api {
            token: token.to_owned(),
            ..self.clone()
        }
    }

    /// The server's base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The bearer token this caller sends.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// `POST path` with a raw body and extra headers: status, `Location`, body.
    pub async fn post_raw(
        &self,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> (u16, Option<String>, Value) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .body(body.to_owned());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        let text = resp.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, location, value)
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    /// Submits a manifest; returns the names of the created runs.
    pub async fn submit(&self, file_name: &str, content: &str) -> Result<Vec<String>, Value> {
        let (status, body) = self
            .call(
                "POST",
                "/api/v1/namespaces/default/workflows",
                Some(json!({"source": {"name": file_name, "content": content}})),
            )
            .await;
        if status != 201 {
            return Err(body);
        }
        Ok(body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
            .collect())
    }

    pub async fn run(&self, name: &str) -> Value {
        let (status, body) = self
            .call(
                "GET",
                &format!("/api/v1/namespaces/default/workflows/{name}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    pub async fn act(&self, name: &str, action: &str, body: Value) -> (u16, Value) {
        self.call(
            "PUT",
            &format!("/api/v1/namespaces/default/workflows/{name}/{action}"),
            Some(body),
        )
        .await
    }

    /// The run's log lines (`text` of each entry), every step.
    pub async fn logs(&self, name: &str) -> Vec<Value> {
        let resp = self
            .http
            .get(format!(
                "{}/api/v1/namespaces/default/workflows/{name}/log",
                self.url
            ))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let text = resp.text().await.unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

pub fn phase(run: &Value) -> &str {
    run["status"]["phase"].as_str().unwrap_or("")
}

/// Nodes of a run, as (displayName, node JSON).
pub fn nodes(run: &Value) -> Vec<(String, Value)> {
    run["status"]["nodes"]
        .as_object()
        .map(|m| {
            m.values()
                .map(|n| {
                    (
                        n["displayName"].as_str().unwrap_or("").to_string(),
                        n.clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A copy of `examples/platform` whose webhook listens on `port`.
pub fn platform_copy(dir: &Path, port: u16) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/platform");
    let dst = dir.join("platform");
    std::fs::create_dir_all(&dst).unwrap();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("\"12000\"", &format!("\"{port}\""));
        std::fs::write(dst.join(path.file_name().unwrap()), text).unwrap();
    }
    dst
}

pub async fn token(admin: &Api, name: &str, roles: &[&str]) -> String {
    let (status, body) = admin
        .call(
            "POST",
            "/api/v1/tokens",
            Some(json!({"name": name, "roles": roles})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["token"].as_str().unwrap().to_owned()
}
