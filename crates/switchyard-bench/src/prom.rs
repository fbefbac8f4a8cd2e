//! Reading the server's `/metrics` (Prometheus text format) for the figures that say where
//! the time went. Histograms without configured buckets are rendered as summaries: quantiles
//! over a rolling window of the last minute, plus a `_sum` and `_count` since start.

use serde::Serialize;

/// One line of the text format: `name{labels} value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Every sample of the text, skipping comments and lines that do not parse.
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (series, value) = line.rsplit_once(' ')?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    let (name, labels) = match series.split_once('{') {
        Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}')?)?),
        None => (series, Vec::new()),
    };
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// `a="x",b="y \"q\""` into pairs, unescaping `\\`, `\"` and `\n`.
fn parse_labels(mut rest: &str) -> Option<Vec<(String, String)>> {
    let mut labels = Vec::new();
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '"' => break i,
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                c => value.push(c),
            }
        };
        labels.push((key.trim().to_string(), value));
        rest = after[end + 1..].trim_start_matches(',');
    }
    Some(labels)
}

/// The sum of the series named `name` whose labels include every pair of `selector` (a
/// counter or gauge, over the label values the selector leaves open); 0 when there is none.
pub fn sum(samples: &[Sample], name: &str, selector: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name && selector.iter().all(|(k, v)| s.label(k) == Some(v)))
        .map(|s| s.value)
        .sum()
}

/// A histogram or summary of seconds, as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Distribution {
    /// Observations since the server started.
    pub count: f64,
    /// Their total, in seconds.
    pub sum_seconds: f64,
    /// `sum_seconds / count`, in milliseconds.
    pub mean_ms: Option<f64>,
    /// Quantiles over the summary's window (the last minute), in milliseconds, when the
    /// metric is a summary.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

/// The distribution named `family` among `samples`, restricted to series whose labels include
/// every pair of `selector`; `None` when it has no `_count`.
pub fn distribution(
    samples: &[Sample],
    family: &str,
    selector: &[(&str, &str)],
) -> Option<Distribution> {
    let selected = |s: &&Sample| selector.iter().all(|(k, v)| s.label(k) == Some(v));
    let series = |suffix: &str| {
        let name = format!("{family}{suffix}");
        samples
            .iter()
            .filter(move |s| s.name == name)
            .filter(selected)
    };
    let count = series("_count").map(|s| s.value).next()?;
    let sum_seconds = series("_sum").map(|s| s.value).next().unwrap_or(0.0);
    let quantile = |q: &str| {
        series("")
            .find(|s| s.label("quantile") == Some(q))
            .map(|s| s.value * 1000.0)
    };
    Some(Distribution {
        count,
        sum_seconds,
        mean_ms: (count > 0.0).then(|| sum_seconds / count * 1000.0),
        p50_ms: quantile("0.5"),
        p99_ms: quantile("0.99"),
        max_ms: quantile("1"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# TYPE argo_workflows_operation_duration_seconds summary
argo_workflows_operation_duration_seconds{quantile="0"} 0.0004
argo_workflows_operation_duration_seconds{quantile="0.5"} 0.002
argo_workflows_operation_duration_seconds{quantile="0.99"} 0.01
argo_workflows_operation_duration_seconds{quantile="1"} 0.02
argo_workflows_operation_duration_seconds_sum 0.8
argo_workflows_operation_duration_seconds_count 400
switchyard_step_duration_seconds{result="failed",quantile="0.5"} 1
switchyard_step_duration_seconds_sum{result="failed"} 3
switchyard_step_duration_seconds_count{result="failed"} 3
switchyard_step_duration_seconds{result="succeeded",quantile="0.5"} 0.004
switchyard_step_duration_seconds_sum{result="succeeded"} 1
switchyard_step_duration_seconds_count{result="succeeded"} 200
switchyard_http_requests_total{path="/a \"b\"",status="200"} 7
"#;

    #[test]
    fn a_summary_reads_as_milliseconds() {
        let samples = parse(TEXT);
        let d = distribution(&samples, "argo_workflows_operation_duration_seconds", &[]).unwrap();
        assert_eq!(d.count, 400.0);
        assert_eq!(d.sum_seconds, 0.8);
        assert_eq!(d.mean_ms, Some(2.0));
        assert_eq!(d.p50_ms, Some(2.0));
        assert_eq!(d.p99_ms, Some(10.0));
        assert_eq!(d.max_ms, Some(20.0));
    }

    #[test]
    fn a_selector_picks_one_series() {
        let samples = parse(TEXT);
        let d = distribution(
            &samples,
            "switchyard_step_duration_seconds",
            &[("result", "succeeded")],
        )
        .unwrap();
        assert_eq!(d.count, 200.0);
        assert_eq!(d.mean_ms, Some(5.0));
        assert_eq!(d.p50_ms, Some(4.0));
        assert_eq!(d.p99_ms, None);
        assert!(distribution(&samples, "no_such_metric", &[]).is_none());
    }

    #[test]
    fn counters_add_up_over_open_labels() {
        let samples = parse(
            "argo_workflows_total_count{phase=\"Succeeded\"} 7\n\
             argo_workflows_total_count{phase=\"Failed\"} 2\n\
             argo_workflows_total_count{phase=\"Error\"} 1\n",
        );
        assert_eq!(
            sum(
                &samples,
                "argo_workflows_total_count",
                &[("phase", "Succeeded")]
            ),
            7.0
        );
        assert_eq!(sum(&samples, "argo_workflows_total_count", &[]), 10.0);
        assert_eq!(sum(&samples, "nothing", &[]), 0.0);
    }

    #[test]
    fn escaped_label_values_are_unescaped() {
        let samples = parse(TEXT);
        let http = samples
            .iter()
            .find(|s| s.name == "switchyard_http_requests_total")
            .unwrap();
        assert_eq!(http.label("path"), Some("/a \"b\""));
        assert_eq!(http.label("status"), Some("200"));
        assert_eq!(http.value, 7.0);
    }
}
