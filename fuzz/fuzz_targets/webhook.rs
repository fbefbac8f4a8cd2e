//! The webhook EventSource's part of a request once its bytes have arrived
//! (`switchyard_events::webhook::request_event`): signature check, body as JSON, a form or a
//! GET's query, the sender's CloudEvent identity (binary or structured mode), the event data
//! `{header, body, metadata}`; then the source's `filter.expression`, and the event as the bus
//! carries it and as a sensor reads it back (`CloudEvent::from_bytes`, also of raw bytes).
//!
//! Input: `knobs \0 query \0 headers \0 body`. Knobs pick the method (GET, POST, another), the
//! content type, whether the route has metadata, an HMAC check and a filter. Headers are
//! `Name: value` lines; lines that are not a valid header are skipped.

#![no_main]

use std::collections::BTreeMap;

use arbitrary::Unstructured;
use axum::http::{HeaderName, HeaderValue, Method, Request, header};
use libfuzzer_sys::fuzz_target;
use switchyard_events::cloudevent::CloudEvent;
use switchyard_events::publish::passes_filter;
use switchyard_events::webhook::{HmacCheck, WebhookRoute, request_event};

const FILTERS: &[&str] = &[
    "body.size > 2",
    "header.X_Kind[0] == 'b' || body?.kind == 'b'",
    "len(body) > 0 && metadata.team == 'platform'",
];

const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/x-www-form-urlencoded",
    "application/cloudevents+json",
    "text/plain",
];

fuzz_target!(|data: &[u8]| {
    switchyard_fuzz::contain_engine_panics();
    let [knobs, query, headers, body] = switchyard_fuzz::parts(data);
    let mut u = Unstructured::new(knobs);
    let method = u
        .choose(&[Method::POST, Method::GET, Method::PUT])
        .cloned()
        .unwrap_or(Method::POST);
    let content_type = u.choose(CONTENT_TYPES).ok().copied();
    let with_metadata: bool = u.arbitrary().unwrap_or(false);
    let with_hmac: bool = u.arbitrary().unwrap_or(false);
    let filter = u.choose(FILTERS).ok().map(|f| (*f).to_owned());

    let route = WebhookRoute {
        namespace: "argo-events".to_owned(),
        source: "webhook".to_owned(),
        event: "environments".to_owned(),
        port: 12000,
        endpoint: "/environments".to_owned(),
        method: method.clone(),
        auth_token: None,
        metadata: if with_metadata {
            BTreeMap::from([("team".to_owned(), "platform".to_owned())])
        } else {
            BTreeMap::new()
        },
        max_payload: 1 << 20,
        filter,
        hmac: with_hmac.then(|| HmacCheck {
            header: "X-Hub-Signature-256".to_owned(),
            key: b"secret".to_vec(),
        }),
    };

    let uri = match switchyard_fuzz::text(query) {
        Some(q) if !q.is_empty() => format!("/environments?{q}"),
        _ => "/environments".to_owned(),
    };
    let Ok(mut request) = Request::builder().method(method).uri(uri).body(()) else {
        return;
    };
    if let Some(ct) = content_type {
        request
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    for line in headers.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        request.headers_mut().append(name, value);
    }
    let (parts, ()) = request.into_parts();

    if let Ok((event, dedup)) = request_event(&route, &parts, body, switchyard_fuzz::now()) {
        assert_eq!(event.source, route.source);
        assert_eq!(event.subject, route.event);
        assert_eq!(dedup.is_some(), event.originsource.is_some());
        if let Some(filter) = &route.filter {
            let _ = passes_filter(filter, &event.data);
        }
        let _ = event.context();
        let _ = event.bus_subject(&route.namespace);
        let bytes = event.to_bytes();
        let back = CloudEvent::from_bytes(&bytes).expect("an event reads back from the bus");
        assert_eq!(
            (
                &back.id,
                &back.source,
                &back.subject,
                &back.time,
                &back.originsource
            ),
            (
                &event.id,
                &event.source,
                &event.subject,
                &event.time,
                &event.originsource
            )
        );
    }
    // What a sensor reads from the bus, whatever the bytes.
    if let Ok(event) = CloudEvent::from_bytes(body) {
        let _ = event.context();
        let _ = event.bus_subject("argo-events");
    }
});
