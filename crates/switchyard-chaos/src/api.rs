//! The few calls of the public control API the scenarios make: apply manifests, submit and
//! act on runs, list runs, read the event ledger and `/metrics`.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use reqwest::Method;
use serde_json::{Value, json};

/// The control API of one server, as one bearer token.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    pub url: String,
    pub token: String,
}

/// An answer: status, `Location` header, body (JSON when it parses, else a JSON string) and
/// how long it took.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub body: Value,
    pub took: Duration,
}

impl Api {
    pub fn new(url: &str, token: &str) -> Api {
        Api {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap_or_default(),
            url: url.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        }
    }

    /// The same server as another caller.
    pub fn with_token(&self, token: &str) -> Api {
        Api {
            token: token.to_owned(),
            ..self.clone()
        }
    }

    /// `METHOD path` with an optional JSON body and extra headers.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> Result<Answer> {
        let began = Instant::now();
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.header("content-type", "application/json").body(body);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = resp
            .text()
            .await
            .with_context(|| format!("reading the answer to {method} {path}"))?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Answer {
            status,
            location,
            body,
            took: began.elapsed(),
        })
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Answer> {
        self.request(method, path, body.map(Value::to_string), &[])
            .await
    }

    /// `POST /api/v1/apply` of one manifest file; the whole answer, whatever its status.
    pub async fn apply_raw(&self, name: &str, content: &str) -> Result<Answer> {
        self.call(
            Method::POST,
            "/api/v1/apply",
            Some(&json!({"sources": [{"name": name, "content": content}]})),
        )
        .await
    }

    /// Applies one manifest file; an error with the server's diagnostics unless it is 200.
    pub async fn apply(&self, name: &str, content: &str) -> Result<()> {
        let answer = self.apply_raw(name, content).await?;
        if answer.status != 200 {
            bail!(
                "applying {name} answered {}: {}",
                answer.status,
                answer.body
            );
        }
        Ok(())
    }

    /// Submits a Workflow manifest in `namespace`; the name of the run.
    pub async fn submit(&self, namespace: &str, file: &str, content: &str) -> Result<String> {
        let answer = self
            .call(
                Method::POST,
                &format!("/api/v1/namespaces/{namespace}/workflows"),
                Some(&json!({"source": {"name": file, "content": content}})),
            )
            .await?;
        if answer.status != 201 {
            bail!(
                "submitting {file} answered {}: {}",
                answer.status,
                answer.body
            );
        }
        answer.body["items"][0]["metadata"]["name"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("the submit answer names no run: {}", answer.body))
    }

    /// Every run of `namespace`, as Workflow objects, read in pages of 500.
    pub async fn runs(&self, namespace: &str) -> Result<Vec<Value>> {
        let mut runs = Vec::new();
        let mut path = format!("/api/v1/namespaces/{namespace}/workflows?limit=500");
        loop {
            let mut answer = self.call(Method::GET, &path, None).await?;
            if answer.status != 200 {
                bail!("listing runs answered {}: {}", answer.status, answer.body);
            }
            if let Some(items) = answer.body["items"].as_array_mut() {
                runs.append(items);
            }
            match answer.body["metadata"]["continue"].as_str() {
                Some(token) => {
                    path = format!(
                        "/api/v1/namespaces/{namespace}/workflows?limit=500&continue={}",
                        form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
                    );
                }
                None => return Ok(runs),
            }
        }
    }

    /// One run as a Workflow object.
    pub async fn run(&self, namespace: &str, name: &str) -> Result<Value> {
        let answer = self
            .call(
                Method::GET,
                &format!("/api/v1/namespaces/{namespace}/workflows/{name}"),
                None,
            )
            .await?;
        if answer.status != 200 {
            bail!(
                "reading run {name} answered {}: {}",
                answer.status,
                answer.body
            );
        }
        Ok(answer.body)
    }

    /// `PUT .../workflows/{name}/{action}` (resume, stop, ...).
    pub async fn act(&self, namespace: &str, name: &str, action: &str) -> Result<Answer> {
        self.call(
            Method::PUT,
            &format!("/api/v1/namespaces/{namespace}/workflows/{name}/{action}"),
            Some(&json!({})),
        )
        .await
    }

    /// The event ledger's records (`GET /api/v1/events?...`), newest first.
    pub async fn events(&self, query: &str) -> Result<Vec<Value>> {
        let answer = self
            .call(Method::GET, &format!("/api/v1/events?{query}"), None)
            .await?;
        if answer.status != 200 {
            bail!(
                "GET /api/v1/events?{query} answered {}: {}",
                answer.status,
                answer.body
            );
        }
        Ok(answer.body["items"].as_array().cloned().unwrap_or_default())
    }

    /// A new API token with `roles`.
    pub async fn token(&self, name: &str, roles: &[&str]) -> Result<String> {
        let answer = self
            .call(
                Method::POST,
                "/api/v1/tokens",
                Some(&json!({"name": name, "roles": roles})),
            )
            .await?;
        if answer.status != 201 {
            bail!(
                "creating token {name} answered {}: {}",
                answer.status,
                answer.body
            );
        }
        answer.body["token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("the token answer has no token: {}", answer.body))
    }

    /// The text of `/metrics`.
    pub async fn metrics(&self) -> Result<String> {
        let resp = self
            .http
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .context("reading /metrics")?;
        if !resp.status().is_success() {
            bail!("/metrics answered {}", resp.status());
        }
        resp.text().await.context("reading /metrics")
    }

    /// Whether `/healthz` answers 200.
    pub async fn healthy(&self) -> bool {
        match self
            .http
            .get(format!("{}/healthz", self.url))
            .timeout(Duration::from_secs(5))
            .send()
            .await
        {
            Ok(resp) => resp.status().is_success(),
            Err(_) => false,
        }
    }
}

/// The sum of every sample of metric `name` in a Prometheus text exposition (labels ignored).
pub fn metric_sum(text: &str, name: &str) -> Option<f64> {
    let mut found = None;
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        if !(rest.starts_with('{') || rest.starts_with(' ')) {
            continue;
        }
        let value = rest.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok());
        if let Some(v) = value {
            *found.get_or_insert(0.0) += v;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_sums_add_every_label_set_of_one_name() {
        let text = "# HELP q depth\nq_depth{queue=\"a\"} 3\nq_depth{queue=\"b\"} 4.5\nq_depth_other 100\nq 1\n";
        assert_eq!(metric_sum(text, "q_depth"), Some(7.5));
        assert_eq!(metric_sum(text, "q"), Some(1.0));
        assert_eq!(metric_sum(text, "absent"), None);
    }
}
