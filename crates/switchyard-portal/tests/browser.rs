//! The portal's pieces in headless Chromium, against the portal's router alone (no platform
//! behind it):
//! - the order form's checks are the platform's: every case below is validated by the
//!   catalog crate (what the API answers) and by the portal's `schema.js` (what the form
//!   shows while typing), and the answers must be the same: error types, locations,
//!   messages, refused inputs and contexts, in the same order, or the same accepted body with
//!   its defaults;
//! - the API's 422 is shown at the fields it names;
//! - the Content-Security-Policy is in force, and a violation is reported where the
//!   end-to-end test looks for page errors.

#![allow(clippy::unwrap_used)]

#[path = "support/cdp.rs"]
mod cdp;

use serde_json::{Value, json};
use switchyard_catalog::InputSchema;

/// A body in JSON mode (as posted), or `key=value` text (as a form or a command line gives).
#[derive(Clone, Copy)]
enum Mode {
    Json,
    Text,
}

fn environment() -> Value {
    json!({
        "type": "object",
        "required": ["environment", "requester_name", "requester_email"],
        "properties": {
            "region": {"type": "string", "enum": ["eastus2", "westus2", "centralus", "westeurope", "northeurope", "uksouth"], "default": "eastus2", "examples": ["eastus2"]},
            "cloud_provider": {"type": "string", "enum": ["azure", "aws", "gcp"], "default": "azure"},
            "resource_type": {"type": "string", "enum": ["kubernetes", "virtual-machine", "database", "storage"], "default": "kubernetes"},
            "environment": {"type": "string", "pattern": "^[a-z][a-z0-9-]*$", "minLength": 2, "maxLength": 31, "examples": ["team-a-dev"]},
            "requester_name": {"type": "string", "minLength": 1, "maxLength": 100},
            "requester_email": {"type": "string", "format": "email", "maxLength": 254},
        },
    })
}

fn kitchen() -> Value {
    json!({
        "type": "object",
        "required": ["name", "count", "ratio", "flag", "tags", "owner", "kind"],
        "properties": {
            "name": {"type": "string", "minLength": 2, "maxLength": 5, "pattern": "^[a-z]+$"},
            "count": {"type": "integer", "minimum": 1, "maximum": 10, "multipleOf": 2},
            "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            "flag": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1, "maxItems": 3, "uniqueItems": true},
            "owner": {"type": "object", "required": ["email"], "properties": {
                "email": {"type": "string", "format": "email"},
                "site": {"type": "string", "format": "uri"},
                "team": {"type": "string", "default": "platform"},
            }},
            "kind": {"enum": ["a", 1, true]},
            "fixed": {"const": "x"},
            "size": {"type": "string", "enum": ["s", "m", "l"], "default": "m"},
            "nums": {"type": "array", "items": {"type": "number"}, "uniqueItems": true},
            "level": {"type": "integer", "default": 3, "exclusiveMinimum": 0},
            "step": {"type": "number", "multipleOf": 0.1},
        },
    })
}

fn formats() -> Value {
    let mut properties = serde_json::Map::new();
    for f in ["email", "uri", "date", "date-time", "uuid", "hostname"] {
        properties.insert(f.to_owned(), json!({"type": "string", "format": f}));
    }
    json!({"type": "object", "properties": properties})
}

fn text_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "i": {"type": "integer", "minimum": 0},
            "n": {"type": "number"},
            "b": {"type": "boolean"},
            "s": {"type": "string", "maxLength": 3},
            "u": {"enum": ["1", 2]},
            "any": {},
            "obj": {"type": "object", "properties": {"a": {"type": "integer"}}},
            "arr": {"type": "array", "items": {"type": "integer"}},
        },
    })
}

fn cases() -> Vec<(Value, Value, Mode)> {
    let mut out = Vec::new();
    let env = environment();
    for body in [
        json!({}),
        json!({"region": "mars", "environment": "Team_A"}),
        json!({"environment": "team-a-dev", "requester_name": "Ada", "requester_email": "ada@example.com"}),
        json!({"environment": "t", "requester_name": "", "requester_email": "ada", "colour": "blue"}),
        json!({"environment": "x".repeat(32), "requester_name": "Ada", "requester_email": "ada@example.com", "region": "westeurope"}),
        json!([1, 2]),
        json!("text"),
        Value::Null,
    ] {
        out.push((env.clone(), body, Mode::Json));
    }
    let k = kitchen();
    let valid = json!({"name": "abc", "count": 4, "ratio": 0.5, "flag": true, "tags": ["x", "y"],
        "owner": {"email": "a@b.co"}, "kind": 1});
    out.push((k.clone(), valid.clone(), Mode::Json));
    for (field, value) in [
        ("name", json!(5)),
        ("name", json!("ab1")),
        ("name", json!("a")),
        ("name", json!("abcdef")),
        ("name", json!("été")),
        ("count", json!("3")),
        ("count", json!(3.5)),
        ("count", json!(4.0)),
        ("count", json!(0)),
        ("count", json!(12)),
        ("count", json!(3)),
        ("ratio", json!(true)),
        ("ratio", json!(0)),
        ("ratio", json!(1)),
        ("ratio", json!(-2.5)),
        ("flag", json!("yes")),
        ("tags", json!("x")),
        ("tags", json!([])),
        ("tags", json!(["a", "b", "c", "d"])),
        ("tags", json!(["a", "a"])),
        ("tags", json!(["", "a", ""])),
        ("tags", json!([1, "a"])),
        ("owner", json!([])),
        ("owner", json!({})),
        ("owner", json!({"email": "bad"})),
        ("owner", json!({"email": "a@b.co", "site": "nope"})),
        ("owner", json!({"email": "a@b.co", "extra": 1})),
        ("kind", json!("b")),
        ("kind", json!(2)),
        ("kind", json!(true)),
        ("fixed", json!("y")),
        ("fixed", json!("x")),
        ("size", json!("xl")),
        ("nums", json!([1, 1.0])),
        ("nums", json!([1, 2, "3"])),
        ("level", json!(0)),
        ("step", json!(0.3)),
        ("step", json!(0.35)),
        ("zzz", json!({"deep": 1})),
    ] {
        let mut body = valid.clone();
        body[field] = value;
        out.push((k.clone(), body, Mode::Json));
    }
    out.push((k.clone(), json!({}), Mode::Json));
    out.push((k, json!({"name": 1, "count": [], "ratio": {}, "flag": null, "tags": {}, "owner": "me", "kind": null}), Mode::Json));

    let f = formats();
    let strings: &[(&str, &[&str])] = &[
        (
            "email",
            &[
                "dev@example.com",
                "devexample.com",
                "a@b@c.com",
                "@x.com",
                "dev@",
                "dev@localhost",
                "dev@.x.com",
                "dev@x.com.",
                "dev@x..com",
                "dev@ex_ample.com",
                "d ev@x.com",
                "dév@exämple.com",
                "a@b.c\u{a0}",
                "",
                "dev@ex👍.com",
            ],
        ),
        (
            "uri",
            &[
                "https://example.com/a?b#c",
                "example.com",
                "",
                "http://",
                "http://[::1]:80/",
                "http://[::1",
                "http://h:99999",
                "http://h:",
                "mailto:a@b",
                "http://a b",
                "http://x/%zz",
                "http://x/%41",
                "1http://x",
                "http://x/\u{1}",
                "http://x/\"",
                "urn:isbn:123",
                "http://u@:80",
                "http://x/\u{a0}",
                "http://x/\t",
            ],
        ),
        (
            "date",
            &[
                "2024-02-29",
                "2023-02-29",
                "2024-13-01",
                "2024-1-01",
                "2024-01-01x",
                "20240101",
                "２０２４-01-01",
                "éééé-01-1",
                "2024/01/01",
                "2024-04-31",
                "2024-00-10",
                "2024-01-00",
                "",
            ],
        ),
        (
            "date-time",
            &[
                "2024-05-01T10:20:30Z",
                "2024-05-01T10:20:30",
                "2024-05-01 10:20:30Z",
                "2024-05-01T10:20:30.123+02:00",
                "2024-05-01T24:00:00Z",
                "2024-05-01T10:60:00Z",
                "2024-05-01T10:20:61Z",
                "2024-05-01T10:20:60z",
                "2024-05-01T10:20:30+0200",
                "2024-05-01T10:20:30Zjunk",
                "2024-05-01T10:20:30.Z",
                "2024-05-01",
                "2024-05-01T",
                "2024-05-01T10:20:30+24:00",
                "2024-05-01T10:20:30x",
                "2024-05-01t10:20:30-01:30",
                "2024-05-01T10:2",
                "2024-05-01T10:20:30+1",
                "2024-05-01Tab:20:30Z",
            ],
        ),
        (
            "uuid",
            &[
                "0190b6c4-5f2e-7cc1-9a3e-2f4b8d1c0e7a",
                "0190b6c45f2e7cc19a3e2f4b8d1c0e7a",
                "0190b6c4-5f2e-7cc1-9a3e-2f4b8d1c0e7g",
                "0190b6c4_5f2e-7cc1-9a3e-2f4b8d1c0e7a",
                "0190b6c4-5f2e-7cc1-9a3e-2f4b8d1c0e7é",
                "",
            ],
        ),
        (
            "hostname",
            &[
                "api.example.com",
                "localhost",
                "",
                "a..b",
                "-a.b",
                "a_b.c",
                "é.com",
                "a.",
                "x-.y",
            ],
        ),
    ];
    for (format, values) in strings {
        for v in *values {
            out.push((f.clone(), json!({ *format: v }), Mode::Json));
        }
    }
    out.push((
        f.clone(),
        json!({"hostname": format!("{}.com", "a".repeat(64))}),
        Mode::Json,
    ));
    out.push((
        f,
        json!({"hostname": format!("{}.com", "ab.".repeat(84))}),
        Mode::Json,
    ));

    let t = text_schema();
    for body in [
        json!({"i": "x"}),
        json!({"i": " 007 "}),
        json!({"i": "3.0"}),
        json!({"i": "3.5"}),
        json!({"i": "-0"}),
        json!({"i": "+4"}),
        json!({"i": "-1"}),
        json!({"i": ""}),
        json!({"i": "1e3"}),
        json!({"n": "1e3"}),
        json!({"n": "inf"}),
        json!({"n": "abc"}),
        json!({"n": ".5"}),
        json!({"n": "1."}),
        json!({"n": "-2.50"}),
        json!({"n": "1e400"}),
        json!({"n": "0x10"}),
        json!({"n": ""}),
        json!({"b": "Yes"}),
        json!({"b": "maybe"}),
        json!({"b": " off "}),
        json!({"s": "abcd"}),
        json!({"s": "3"}),
        json!({"u": "1"}),
        json!({"u": "2"}),
        json!({"u": "3"}),
        json!({"any": "text"}),
        json!({"any": "[1, 2]"}),
        json!({"any": "12"}),
        json!({"arr": "[1,2]"}),
        json!({"arr": "[1,\"x\"]"}),
        json!({"obj": "{\"a\": 1}"}),
        json!({"obj": "{\"a\": 1.5}"}),
        json!({"i": "1", "n": "2.5", "b": "off", "s": "ok"}),
        json!({"zzz": "1"}),
    ] {
        out.push((t.clone(), body, Mode::Text));
    }
    out
}

/// What the platform answers: `{ok, value}` or `{ok, errors}`.
fn platform(schema: &Value, body: &Value, mode: Mode) -> Value {
    let input =
        InputSchema::parse(schema, "spec.input").unwrap_or_else(|p| panic!("{schema}: {p:?}"));
    let result = match mode {
        Mode::Json => input.validate(body),
        Mode::Text => {
            let pairs: Vec<(String, String)> = body
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect();
            input.validate_fields(&pairs)
        }
    };
    match result {
        Ok(value) => json!({"ok": true, "value": value}),
        Err(errors) => json!({"ok": false, "errors": errors}),
    }
}

/// JSON equality with numbers compared by value (`4.0` is `4`): JavaScript has one kind of
/// number, and the wire carries values, not representations.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
                && x.keys().eq(y.keys())
        }
        _ => a == b,
    }
}

async fn serve_portal() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app: axum::Router = switchyard_portal::router();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_says_what_the_api_says() {
    let Some(binary) = cdp::chromium() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must run the portal's checks in Chromium: install Debian's `chromium` package"
        );
        eprintln!("skipped: Chromium is not installed (apt-get install chromium)");
        return;
    };
    let base = serve_portal().await;
    let cases = cases();
    let wanted: Vec<Value> = cases.iter().map(|(s, b, m)| platform(s, b, *m)).collect();
    let payload: Vec<Value> = cases
        .iter()
        .map(|(s, b, m)| {
            json!([
                s,
                b,
                match m {
                    Mode::Json => "json",
                    Mode::Text => "text",
                }
            ])
        })
        .collect();
    let profile = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("portal-validation-{}", std::process::id()));
    let got = tokio::task::spawn_blocking(move || {
        let browser = cdp::Browser::launch(&binary, &profile);
        let page = browser.new_page(None);
        page.goto(&format!("{base}/ui/signin"));
        let script = format!(
            "import('{}/schema.js').then((m) => {}.map(([s, b, mode]) => m.validate(m.compile(s), b, mode)))",
            switchyard_portal::asset_base(),
            serde_json::to_string(&payload).unwrap()
        );
        let got = page.eval(&script).unwrap();
        let errors = page.errors();
        assert!(errors.is_empty(), "the page reported errors: {errors:#?}");
        got
    })
    .await
    .unwrap();
    let got = got.as_array().unwrap();
    assert_eq!(got.len(), wanted.len());
    let mut differ = Vec::new();
    for (i, ((schema, body, _), (want, have))) in
        cases.iter().zip(wanted.iter().zip(got)).enumerate()
    {
        if !same(want, have) {
            let name = schema["properties"]
                .as_object()
                .map(|p| p.keys().take(3).cloned().collect::<Vec<_>>().join(","));
            differ.push(format!(
                "case {i} (schema {name:?}) body {body}\n  platform: {want}\n  portal:   {have}"
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "{} of {} cases differ:\n{}",
        differ.len(),
        cases.len(),
        differ.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_apis_refusal_is_shown_at_the_fields_it_names() {
    let Some(binary) = cdp::chromium() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must run the portal's checks in Chromium"
        );
        eprintln!("skipped: Chromium is not installed (apt-get install chromium)");
        return;
    };
    let base = serve_portal().await;
    let schema = environment();
    let profile = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("portal-refusal-{}", std::process::id()));
    tokio::task::spawn_blocking(move || {
        let browser = cdp::Browser::launch(&binary, &profile);
        let page = browser.new_page(None);
        page.goto(&format!("{base}/ui/signin"));
        // A form the client finds valid, refused by the platform for its own reasons (a
        // rule the client cannot know, a field the form does not have): each message goes
        // where its `loc` points, the rest to the summary, and typing clears a field's.
        let script = format!(
            "import('{}/form.js').then((m) => {{
               const form = m.orderForm({schema});
               document.body.replaceChildren(form.element);
               form.element.querySelector('[name=environment]').value = 'team-a-dev';
               form.element.querySelector('[name=requester_name]').value = 'Ada';
               form.element.querySelector('[name=requester_email]').value = 'ada@example.com';
               const ok = form.value() !== null;
               form.showServerErrors([
                 {{type: 'value_error', loc: ['body', 'environment'], msg: 'Value error, team-a-dev exists already', input: 'team-a-dev'}},
                 {{type: 'extra_forbidden', loc: ['body', 'colour'], msg: 'Extra inputs are not permitted', input: 'blue'}},
               ]);
               window.__form = form;
               return ok;
             }})",
            switchyard_portal::asset_base(),
            schema = schema,
        );
        assert_eq!(page.eval(&script).unwrap(), json!(true), "the client accepts the body");
        let error = |name: &str| {
            page.eval(&format!(
                "document.querySelector('[name={name}]').closest('.field').querySelector('.field-error').innerText"
            ))
            .unwrap()
        };
        assert_eq!(error("environment"), json!("Value error, team-a-dev exists already"));
        assert_eq!(error("requester_name"), json!(""));
        let summary = page.text(".form-summary");
        assert!(summary.contains("2 things need your attention"), "{summary}");
        assert!(summary.contains("colour: Extra inputs are not permitted"), "{summary}");
        assert_eq!(
            page.eval("document.activeElement.name").unwrap(),
            json!("environment"),
            "the first refused field gets the focus"
        );
        page.type_into("[name=environment]", "team-b-dev");
        page.wait(
            "document.querySelector('[name=environment]').closest('.field').querySelector('.field-error').innerText === ''",
            "the field's refusal to clear once edited",
        );
        let errors = page.errors();
        assert!(errors.is_empty(), "the page reported errors: {errors:#?}");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_refuses_inline_code_and_says_so() {
    let Some(binary) = cdp::chromium() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must run the portal's checks in Chromium"
        );
        eprintln!("skipped: Chromium is not installed (apt-get install chromium)");
        return;
    };
    let base = serve_portal().await;
    let profile = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("portal-policy-{}", std::process::id()));
    tokio::task::spawn_blocking(move || {
        let browser = cdp::Browser::launch(&binary, &profile);
        let page = browser.new_page(None);
        page.goto(&format!("{base}/ui/signin"));
        page.wait_for("#token");
        assert!(page.errors().is_empty(), "{:#?}", page.errors());
        // What an injected order field would try: an inline script, an inline style.
        page.eval(
            "(() => { const s = document.createElement('script'); s.textContent = 'window.__ran = true';
               document.body.append(s); document.body.setAttribute('style', 'background: red'); })()",
        )
        .unwrap();
        assert_eq!(page.eval("window.__ran === true").unwrap(), json!(false), "the inline script ran");
        assert_ne!(
            page.eval("getComputedStyle(document.body).backgroundColor").unwrap(),
            json!("rgb(255, 0, 0)"),
            "the inline style applied"
        );
        page.wait("true", "the browser to report");
        let errors = page.errors();
        assert!(
            errors.iter().any(|e| e.contains("Content Security Policy")),
            "the violations are reported: {errors:#?}"
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_for_every_kind_of_field() {
    let Some(binary) = cdp::chromium() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must run the portal's checks in Chromium"
        );
        eprintln!("skipped: Chromium is not installed (apt-get install chromium)");
        return;
    };
    let base = serve_portal().await;
    let schema = kitchen();
    let wanted = json!({"name": "abc", "count": 4, "ratio": 0.5, "flag": true, "tags": ["x", "y"],
        "owner": {"email": "a@b.co", "team": "platform"}, "kind": 1, "size": "l", "level": 3, "nums": [1.5]});
    let accepted = platform(&schema, &wanted, Mode::Json);
    assert_eq!(accepted["ok"], json!(true), "{accepted}");
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("portal-screenshots/form-every-kind-of-field.png");
    let profile = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("portal-fields-{}", std::process::id()));
    let got = tokio::task::spawn_blocking(move || {
        let browser = cdp::Browser::launch(&binary, &profile);
        let page = browser.new_page(None);
        page.goto(&format!("{base}/ui/signin"));
        let script = format!(
            "import('{}/form.js').then((m) => {{
               const form = m.orderForm({schema});
               const main = document.createElement('main');
               main.className = 'main';
               const card = document.createElement('section');
               card.className = 'card';
               card.append(form.element);
               main.append(card);
               document.body.replaceChildren(main);
               window.__form = form;
             }})",
            switchyard_portal::asset_base()
        );
        page.eval(&script).unwrap();
        // Typed as a person would: text for numbers, a checkbox, a list grown by a button,
        // an object's fields, a choice among mixed values, a select.
        page.type_into("[name=name]", "abc");
        page.type_into("[name=count]", "4");
        page.type_into("[name=ratio]", "0.5");
        page.click("[name=flag]");
        page.click("fieldset.array button.btn-secondary");
        page.type_into("[name='tags.0']", "x");
        page.click("fieldset.array button.btn-secondary");
        page.type_into("[name='tags.1']", "x");
        page.tab();
        page.wait(
            "document.querySelector('[name=\"tags.1\"]').closest('.field').querySelector('.field-error').innerText === 'Value error, List should have unique items, this item repeats item 0'",
            "the duplicate item to be flagged",
        );
        page.type_into("[name='tags.1']", "y");
        page.type_into("[name='owner.email']", "a@b.co");
        page.click("label[for$='-kind-1']");
        page.click("label[for$='-size-2']");
        let add_num = "document.querySelectorAll('fieldset.array')[1].querySelector('button.btn-secondary')";
        page.eval(&format!("{add_num}.click()")).unwrap();
        page.type_into("[name='nums.0']", "1.5");
        page.type_into("[name=step]", "0.35");
        page.wait(
            "document.querySelector('[name=step]').closest('.field').querySelector('.field-error').innerText === 'Input should be a multiple of 0.1'",
            "the multiple to be checked",
        );
        page.type_into("[name=step]", "");
        page.screenshot(&shot);
        let got = page.eval("window.__form.value()").unwrap();
        let errors = page.errors();
        assert!(errors.is_empty(), "the page reported errors: {errors:#?}");
        got
    })
    .await
    .unwrap();
    assert!(
        same(&got, &accepted["value"]),
        "the form gives\n{got}\nthe platform accepts\n{}",
        accepted["value"]
    );
}
