//! The web portal in headless Chromium against a real `switchyard up` with the bundled
//! platform: a developer orders an environment through the generated form (a bad field is
//! flagged as they type, with the API's own message), follows the run to its approval,
//! cannot approve their own order, a colleague approves from the inbox, and the run finishes
//! with its logs on the developer's page, all without a reload. The browser reaches nothing
//! but the server (every other host name resolves to nothing), the page reports no error
//! (a Content-Security-Policy violation is one), and each page is saved as a screenshot in
//! `target/portal-screenshots/`.
//!
//! The portal is served by the binary at `/ui/`. Where a build does not serve it yet, set
//! `SWITCHYARD_PORTAL_PROXY` to the portal crate's `portal_proxy` example (it serves the
//! portal and passes everything else to the server) and the same test runs through it.

#![allow(clippy::unwrap_used)]

mod support;

#[path = "../../switchyard-portal/tests/support/cdp.rs"]
mod cdp;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use cdp::{Browser, Page, js};
use serde_json::{Value, json};
use support::{Server, data_dir, free_port, platform_copy, token};

/// Where screenshots go: `target/portal-screenshots/`.
fn screenshots() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    target.join("portal-screenshots")
}

/// A process started for the test, killed with it.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The portal's origin: the server itself when it serves `/ui/`, else the proxy named by
/// `SWITCHYARD_PORTAL_PROXY` in front of it; None (the test is skipped) without either.
async fn portal(server_url: &str) -> Option<(String, Option<Guard>)> {
    let page = reqwest::get(format!("{server_url}/ui/")).await.unwrap();
    if page.status().as_u16() == 200 {
        return Some((server_url.to_owned(), None));
    }
    let Some(proxy) = std::env::var_os("SWITCHYARD_PORTAL_PROXY") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the server does not serve the portal at /ui/ (it answered {}): merge switchyard_portal::router() into the server's router",
            page.status()
        );
        eprintln!(
            "skipped: this build does not serve the portal at /ui/; set SWITCHYARD_PORTAL_PROXY to \
             target/debug/examples/portal_proxy (cargo build -p switchyard-portal --example portal_proxy) to test it through the proxy"
        );
        return None;
    };
    let mut child = Command::new(proxy)
        .args(["--listen", "127.0.0.1:0", "--upstream", server_url])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("portal on ")
        .and_then(|u| u.strip_suffix("/ui/"))
        .unwrap_or_else(|| panic!("the proxy said {line:?}"))
        .to_owned();
    Some((base, Some(Guard(child))))
}

/// The platform's checks and the page's own: nothing but the server was asked for anything,
/// and the page reported no error but the refusals the story provoked (`expected`: the
/// failed requests the browser logs, as `path (status)`).
fn clean(page: &Page<'_>, base: &str, who: &str, expected: &[&str]) {
    let errors: Vec<String> = page
        .errors()
        .into_iter()
        .filter(|e| {
            !expected.iter().any(|x| {
                let (path, status) = x.split_once(' ').unwrap();
                e.contains(&format!("{base}{path}")) && e.contains(&format!("status of {status}"))
            })
        })
        .collect();
    assert!(
        errors.is_empty(),
        "{who}'s page reported errors: {errors:#?}"
    );
    let elsewhere: Vec<String> = page
        .requests()
        .into_iter()
        .filter(|u| !u.starts_with(&format!("{base}/")) && !u.starts_with("about:"))
        .collect();
    assert!(
        elsewhere.is_empty(),
        "{who}'s page asked other origins: {elsewhere:?}"
    );
}

fn sign_in(page: &Page<'_>, token: &str) {
    page.wait_for("#token");
    page.type_into("#token", token);
    page.click("form.signin-form button[type=submit]");
    page.wait_for("#whoami");
}

/// The text of the message under the order form's field `name`.
fn field_error(page: &Page<'_>, name: &str) -> String {
    page.eval(&format!(
        "document.querySelector('[name=\"{name}\"]').closest('.field').querySelector('.field-error').innerText"
    ))
    .unwrap()
    .as_str()
    .unwrap_or("")
    .to_owned()
}

/// Waits until the message under the field `name` reads `expected` (validation runs once
/// per frame after typing).
fn expect_field_error(page: &Page<'_>, name: &str, expected: &str) {
    page.wait(
        &format!(
            "document.querySelector('[name=\"{name}\"]').closest('.field').querySelector('.field-error').innerText === {}",
            js(expected)
        ),
        &format!("the message {expected:?} under {name}"),
    );
}

/// Waits until the SPA shows a path starting with `prefix`; returns the path.
fn wait_path(page: &Page<'_>, prefix: &str) -> String {
    page.wait(
        &format!(
            "location.pathname.startsWith({}) && location.pathname",
            js(prefix)
        ),
        &format!("the page {prefix}…"),
    )
    .as_str()
    .unwrap()
    .to_owned()
}

/// A mark in the page's memory: still there later means the page was never reloaded.
fn mark(page: &Page<'_>, value: &str) {
    page.eval(&format!("window.__portalMark = {}", js(value)))
        .unwrap();
}

fn still_marked(page: &Page<'_>, value: &str) {
    assert_eq!(
        page.eval("window.__portalMark").unwrap(),
        json!(value),
        "the page was reloaded"
    );
}

struct Tokens {
    alice: String,
    bob: String,
}

/// The acceptance story, in the browser. Returns the order's id.
fn story(browser: &Browser, base: &str, tokens: &Tokens) -> String {
    let shots = screenshots();
    let alice = browser.new_page(Some(&browser.new_context()));

    // Sign in: a wrong token is refused with the platform's reason; the right one shows who
    // is signed in, with their roles.
    alice.goto(&format!("{base}/ui/"));
    wait_path(&alice, "/ui/signin");
    alice.wait_for("#token");
    alice.screenshot(&shots.join("01-sign-in.png"));
    alice.type_into("#token", "syd_not-a-token");
    alice.click("form.signin-form button[type=submit]");
    alice.wait(
        "!document.querySelector('#token-error').hidden",
        "the sign-in error",
    );
    assert!(
        alice
            .text("#token-error")
            .contains("does not accept this token"),
        "{}",
        alice.text("#token-error")
    );
    alice.type_into("#token", &tokens.alice);
    alice.click("form.signin-form button[type=submit]");
    alice.wait_for(".offering");
    assert_eq!(alice.text("#whoami"), "alice");
    assert_eq!(alice.text(".user-roles"), "orderer, approver");
    alice.screenshot(&shots.join("02-catalog.png"));
    mark(&alice, "alice");

    // The order form, generated from the offering's schema.
    alice.click(".offering a.btn[href='/ui/catalog/argo-events/environments']");
    alice.wait_for("form.order-form [name='environment']");
    assert_eq!(
        alice
            .eval("document.querySelector('[name=environment]').placeholder")
            .unwrap(),
        json!("e.g. team-a-dev"),
        "examples are placeholders"
    );
    assert_eq!(
        alice.eval("document.querySelector('select[name=region]').value !== '' && document.querySelector('select[name=region]').selectedOptions[0].text").unwrap(),
        json!("eastus2"),
        "defaults are filled in"
    );
    // A bad value is flagged as it is typed, in the API's words.
    alice.type_into("[name='environment']", "Team_A");
    expect_field_error(
        &alice,
        "environment",
        "String should match pattern '^[a-z][a-z0-9-]*$'",
    );
    assert_eq!(
        field_error(&alice, "requester_name"),
        "",
        "untouched fields stay quiet"
    );
    // Submitting now lists every problem, the missing fields too; nothing is sent.
    alice.click("form.order-form button[type=submit]");
    alice.wait_for(".form-summary");
    let summary = alice.text(".form-summary");
    assert!(
        summary.contains("3 things need your attention"),
        "{summary}"
    );
    assert_eq!(field_error(&alice, "requester_name"), "Field required");
    alice.screenshot(&shots.join("03-order-form-errors.png"));
    // Fixed: the messages go away as the person types.
    alice.type_into("[name='environment']", "team-a-dev");
    expect_field_error(&alice, "environment", "");
    alice.select("select[name='region']", "westeurope");
    alice.type_into("[name='requester_name']", "Ada Lovelace");
    alice.type_into("[name='requester_email']", "ada@example");
    expect_field_error(
        &alice,
        "requester_email",
        "value is not a valid email address: The part after the @-sign is not valid. It should have a period.",
    );
    alice.type_into("[name='requester_email']", "ada@example.com");
    alice.wait(
        "document.querySelector('.form-summary').hidden",
        "the summary to clear",
    );
    assert_eq!(field_error(&alice, "environment"), "");
    alice.screenshot(&shots.join("04-order-form-ready.png"));
    alice.click("form.order-form button[type=submit]");
    let path = wait_path(&alice, "/ui/orders/");
    let id = path.trim_start_matches("/ui/orders/").to_owned();

    // The order page follows the run to its approval: the plan is shown before the buttons.
    alice.wait(
        "document.querySelector('.order-phase')?.innerText === 'Waiting for approval'",
        "the order to wait for approval",
    );
    alice.wait(
        "document.querySelector('.decision-card .plan .output')?.innerText.includes('team-a-dev')",
        "the plan",
    );
    still_marked(&alice, "alice");
    // The requester is told up front that they cannot approve, and the buttons are off.
    let why = alice.text(".decision .notice-warn");
    assert!(
        why.contains("You placed this order, so you cannot approve it"),
        "{why}"
    );
    assert_eq!(
        alice
            .eval("document.querySelector('[data-decision=approve]').disabled")
            .unwrap(),
        json!(true)
    );
    alice.screenshot(&shots.join("05-order-waiting-for-approval.png"));
    // Even past the page's guard (a stale page, a crafted click), the platform refuses, and
    // its message is shown.
    alice
        .eval(
            "(() => { const c = document.querySelector('.decision textarea'); c.disabled = false; c.value = 'mine, looks fine';
               document.querySelector('[data-decision=approve]').disabled = false; })()",
        )
        .unwrap();
    alice.click("[data-decision=approve]");
    alice.wait(
        "!document.querySelector('.decision-error').hidden",
        "the refusal",
    );
    let refusal = alice.text(".decision-error");
    assert!(
        refusal.contains("The platform refused")
            && refusal.contains("alice placed this order and may not approve it"),
        "{refusal}"
    );
    alice.screenshot(&shots.join("06-requester-refused.png"));

    // Alice watches the run itself: the graph, live.
    alice.click(".run-card a.btn");
    wait_path(&alice, "/ui/runs/argo-events/");
    alice.wait(
        "document.querySelector('.gnode[aria-label^=\"approve: Waiting\"]')",
        "the approval gate in the graph",
    );
    alice.wait(
        "document.querySelector('.gnode[aria-label^=\"terraform-plan: Succeeded\"]')",
        "the plan step in the graph",
    );
    assert!(
        alice
            .text(".notice")
            .contains("This run waits for approval of its order")
    );
    still_marked(&alice, "alice");
    alice.screenshot(&shots.join("07-run-waiting.png"));

    // Bob approves from his inbox, with the plan above the buttons.
    let bob = browser.new_page(Some(&browser.new_context()));
    bob.goto(&format!("{base}/ui/approvals"));
    sign_in(&bob, &tokens.bob);
    wait_path(&bob, "/ui/approvals");
    let card = format!(".approval[data-order='{id}']");
    bob.wait_for(&card);
    assert!(bob.text(&format!("{card} .plan")).contains("team-a-dev"));
    bob.wait(
        "document.querySelector('.nav-link[data-section=approvals] .badge')?.innerText === '1'",
        "the inbox count",
    );
    bob.type_into(&format!("{card} textarea"), "plan reviewed");
    bob.screenshot(&shots.join("08-approval-inbox.png"));
    bob.click(&format!("{card} [data-decision=approve]"));
    bob.wait(
        &format!(
            "document.querySelector(\"{card} .notice-success\")?.innerText.startsWith('Approved.')"
        ),
        "the approval",
    );
    clean(&bob, base, "bob", &[]);

    // Alice's run page sees the approval go through and the run finish, without a reload.
    alice.wait(
        "document.querySelector('.gnode[aria-label^=\"terraform-apply: Succeeded\"]')",
        "terraform-apply to succeed",
    );
    alice.wait(
        "document.querySelector('.page-header .pill')?.innerText === 'Succeeded'",
        "the run to succeed",
    );
    alice.click(".gnode[aria-label^='terraform-apply:']");
    alice.wait(
        "document.querySelector('.log-state')?.innerText === 'Complete'",
        "the log of terraform-apply",
    );
    let log = alice.text(".log-lines");
    assert!(log.contains("team-a-dev"), "{log}");
    assert!(alice.text(".log-title").contains("terraform-apply"));
    still_marked(&alice, "alice");
    alice.screenshot(&shots.join("09-run-succeeded-with-log.png"));

    // Back on the order: Succeeded, with bob's decision.
    alice.eval("history.back()").unwrap();
    wait_path(&alice, "/ui/orders/");
    alice.wait(
        "document.querySelector('.order-phase')?.innerText === 'Succeeded'",
        "the order to succeed",
    );
    assert!(alice.text(".decisions").contains("plan reviewed"));
    still_marked(&alice, "alice");
    alice.screenshot(&shots.join("10-order-succeeded.png"));

    // My orders, then the platform pages.
    alice.click(".nav-link[data-section=orders]");
    alice.wait(
        &format!("document.querySelector(\"a[href='/ui/orders/{id}']\")"),
        "the order in my orders",
    );
    assert!(alice.text("table").contains("Succeeded"));
    alice.screenshot(&shots.join("11-my-orders.png"));
    alice.click(".nav-link[data-section=runs]");
    alice.wait("document.querySelector('table') && document.querySelector('table').innerText.includes('sensor environments')", "the runs");
    alice.select("select[aria-label=Phase]", "Succeeded");
    alice.wait(
        "location.search.includes('phase=Succeeded')",
        "the filter in the URL",
    );
    alice.screenshot(&shots.join("12-runs.png"));
    alice.click(".nav-link[data-section=events]");
    alice.wait(
        &format!("document.querySelector(\"a[href='/ui/orders/{id}']\")"),
        "the order's event",
    );
    let events = alice.text("table");
    assert!(
        events.contains("webhook/environments")
            && events.contains("order: matched")
            && events.contains("environment: done"),
        "{events}"
    );
    alice.screenshot(&shots.join("13-events.png"));
    alice.click(".nav-link[data-section=sensors]");
    alice.wait(
        "document.querySelectorAll('.sensor').length === 3",
        "the sensors",
    );
    assert!(alice.text("main").contains("order ← webhook/environments"));
    alice.screenshot(&shots.join("14-sensors.png"));
    alice.click(".nav-link[data-section=eventsources]");
    alice.wait(
        "document.querySelector('main table')?.innerText.includes('/environments')",
        "the event source",
    );
    alice.screenshot(&shots.join("15-event-sources.png"));
    still_marked(&alice, "alice");
    clean(
        &alice,
        base,
        "alice",
        &[
            "/api/v1/whoami 401",
            &format!("/api/v1/orders/{id}/approve 403"),
        ],
    );

    // Signing out forgets the token.
    alice.click("button.signout");
    wait_path(&alice, "/ui/signin");
    assert_eq!(alice.eval("sessionStorage.length").unwrap(), json!(0));
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordering_approving_and_following_a_run_in_the_portal() {
    let Some(chromium) = cdp::chromium() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must test the portal in Chromium: install Debian's `chromium` package"
        );
        eprintln!("skipped: Chromium is not installed (apt-get install chromium)");
        return;
    };
    let dir = data_dir("portal-story");
    let port = free_port();
    let platform = platform_copy(&dir, port);
    let server = Server::start_with(&dir, &["--platform", platform.to_str().unwrap()]);
    let admin = server.client();
    let Some((base, _proxy)) = portal(admin.url()).await else {
        return;
    };
    let tokens = Tokens {
        alice: token(&admin, "alice", &["orderer", "approver"]).await,
        bob: token(&admin, "bob", &["approver"]).await,
    };
    let profile = dir.join("chromium");
    let base_for_browser = base.clone();
    let id = tokio::task::spawn_blocking(move || {
        let browser = Browser::launch(&chromium, &profile);
        story(&browser, &base_for_browser, &tokens)
    })
    .await
    .unwrap();

    // What the pages showed is what the platform recorded.
    let (status, order) = admin
        .call("GET", &format!("/api/v1/orders/{id}"), None)
        .await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["phase"], "Succeeded");
    assert_eq!(order["requester"], "alice");
    assert_eq!(order["input"]["environment"], "team-a-dev");
    assert_eq!(order["input"]["region"], "westeurope");
    assert_eq!(
        order["approvals"],
        json!([{"by": "bob", "decision": "approved", "comment": "plan reviewed", "at": order["approvals"][0]["at"]}])
    );
}

/// A DAG of `layers` × `width` quick steps, each after two of the previous layer.
fn wide_dag(name: &str, layers: usize, width: usize) -> String {
    let mut out = format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata:\n  name: {name}\nspec:\n  entrypoint: main\n  templates:\n  - name: work\n    container:\n      image: alpine\n      command: [sh, -c, 'echo step done']\n  - name: main\n    dag:\n      tasks:\n"
    );
    for l in 0..layers {
        for w in 0..width {
            out.push_str(&format!("      - name: t{l}-{w}\n        template: work\n"));
            if l > 0 {
                let a = w;
                let b = (w * 7 + 3) % width;
                let deps = if a == b {
                    format!("t{}-{a}", l - 1)
                } else {
                    format!("t{}-{a}, t{}-{b}", l - 1, l - 1)
                };
                out.push_str(&format!("        dependencies: [{deps}]\n"));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_of_500_steps_is_drawn_and_followed() {
    let Some(chromium) = cdp::chromium() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must test the portal in Chromium"
        );
        eprintln!("skipped: Chromium is not installed (apt-get install chromium)");
        return;
    };
    let dir = data_dir("portal-500");
    let server = Server::start(&dir);
    let admin = server.client();
    let Some((base, _proxy)) = portal(admin.url()).await else {
        return;
    };
    let names = admin
        .submit("wide.yaml", &wide_dag("wide", 10, 50))
        .await
        .unwrap();
    assert_eq!(names, ["wide"]);
    let token = admin.token().to_owned();
    let profile = dir.join("chromium");
    let stats = tokio::task::spawn_blocking(move || {
        let browser = Browser::launch(&chromium, &profile);
        let page = browser.new_page(None);
        page.goto(&format!("{base}/ui/runs/default/wide"));
        sign_in(&page, &token);
        wait_path(&page, "/ui/runs/default/wide");
        mark(&page, "wide");
        page.wait("document.querySelector('.page-header .pill')?.innerText === 'Succeeded'", "the run to finish");
        page.wait("document.querySelectorAll('.gnode').length === 501", "every node drawn");
        still_marked(&page, "wide");
        // Each node is one element, drawn once: no duplicates after all the updates.
        let ids = page
            .eval("(() => { const ids = [...document.querySelectorAll('.gnode')].map((g) => g.dataset.id); return [ids.length, new Set(ids).size]; })()")
            .unwrap();
        assert_eq!(ids, json!([501, 501]));
        assert_eq!(
            page.eval("document.querySelectorAll('.gnode.tone-ok').length").unwrap(),
            json!(501),
            "every node shows its phase"
        );
        page.click(".gnode[data-id]:not(.junction)[aria-label^='t9-']");
        page.wait("document.querySelector('.log-state')?.innerText === 'Complete'", "a step's log");
        assert!(page.text(".log-lines").contains("step done"));
        page.screenshot(&screenshots().join("16-run-500-steps.png"));
        clean(&page, &base, "the admin", &[]);
        page.eval("performance.getEntriesByName('graph.update').map((e) => [e.detail.nodes, e.duration])").unwrap()
    })
    .await
    .unwrap();
    // For the record (not a pass mark): how long the graph took per update.
    let updates: Vec<&Value> = stats.as_array().unwrap().iter().collect();
    assert!(!updates.is_empty());
    let slowest = updates
        .iter()
        .filter_map(|u| u[1].as_f64())
        .fold(0.0, f64::max);
    eprintln!("graph updates: {}, slowest {slowest:.1} ms", updates.len());
}

/// A run that waits at a gate (no order: resumed from its own page), a run that fails once
/// (exit codes and attempts shown; retried from its page), and a run that is stopped.
fn runs_to_act_on(markers: &Path) -> String {
    let m = markers.display();
    format!(
        r#"apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: gated
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: prepare
        template: say
    - - name: gate
        template: gate
    - - name: finish
        template: say
  - name: say
    container:
      image: alpine
      command: [sh, -c, 'echo ready']
  - name: gate
    suspend: {{}}
---
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: flaky
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: retried
        template: once
        arguments: {{parameters: [{{name: marker, value: {m}/a}}]}}
      - name: broken
        template: fail-first
        arguments: {{parameters: [{{name: marker, value: {m}/b}}]}}
  - name: once
    inputs: {{parameters: [{{name: marker}}]}}
    retryStrategy: {{limit: 2}}
    container:
      image: alpine
      command: [sh, -c, 'if [ -f "$0" ]; then echo second time lucky; else touch "$0"; echo failing once >&2; exit 3; fi', '{{{{inputs.parameters.marker}}}}']
  - name: fail-first
    inputs: {{parameters: [{{name: marker}}]}}
    container:
      image: alpine
      command: [sh, -c, 'if [ -f "$0" ]; then echo fixed; else touch "$0"; echo broken >&2; exit 3; fi', '{{{{inputs.parameters.marker}}}}']
---
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: endless
spec:
  entrypoint: main
  templates:
  - name: main
    container:
      image: alpine
      command: [sh, -c, 'echo started; sleep 600']
"#
    )
}

/// Confirms the page's dialog for `action` (optionally with a note).
fn confirm(page: &Page<'_>, action: &str, note: Option<&str>) {
    page.click(&format!(".run-actions button[data-action={action}]"));
    page.wait_for("dialog.dialog[open]");
    if let Some(note) = note {
        page.type_into("dialog.dialog input", note);
    }
    page.click("dialog.dialog button[value=ok]");
    page.wait(
        "!document.querySelector('dialog.dialog')",
        "the dialog to close",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_retrying_and_stopping_runs_from_their_pages() {
    let Some(chromium) = cdp::chromium() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must test the portal in Chromium"
        );
        eprintln!("skipped: Chromium is not installed (apt-get install chromium)");
        return;
    };
    let dir = data_dir("portal-actions");
    let server = Server::start(&dir);
    let admin = server.client();
    let Some((base, _proxy)) = portal(admin.url()).await else {
        return;
    };
    let markers = dir.join("markers");
    std::fs::create_dir_all(&markers).unwrap();
    let mut names = admin
        .submit("runs.yaml", &runs_to_act_on(&markers))
        .await
        .unwrap();
    names.sort();
    assert_eq!(names, ["endless", "flaky", "gated"]);
    let viewer = token(&admin, "viewer", &["orderer"]).await;
    let token = admin.token().to_owned();
    let profile = dir.join("chromium");
    tokio::task::spawn_blocking(move || {
        let browser = Browser::launch(&chromium, &profile);
        let shots = screenshots();

        // Someone who may not act on runs sees no buttons.
        let reader = browser.new_page(Some(&browser.new_context()));
        reader.goto(&format!("{base}/ui/runs/default/gated"));
        sign_in(&reader, &viewer);
        reader.wait("document.querySelector('.gnode[aria-label^=\"gate: Waiting\"]')", "the gate to wait");
        assert_eq!(reader.eval("document.querySelectorAll('.run-actions button').length").unwrap(), json!(0));
        clean(&reader, &base, "the reader", &[]);

        let page = browser.new_page(None);
        page.goto(&format!("{base}/ui/runs/default/gated"));
        sign_in(&page, &token);
        mark(&page, "admin");
        page.wait("document.querySelector('.gnode[aria-label^=\"gate: Waiting\"]')", "the gate to wait");
        // A steps run: its step groups are drawn as junctions between the steps.
        assert!(page.eval("document.querySelectorAll('.gnode.junction').length").unwrap().as_u64().unwrap() >= 2);
        confirm(&page, "resume", Some("checked by hand"));
        page.wait("document.querySelector('.page-header .pill')?.innerText === 'Succeeded'", "the resumed run to succeed");
        page.click(".gnode[aria-label^='gate:']");
        page.wait("document.querySelector('.node-detail')?.innerText.includes('checked by hand')", "the resume note on the gate");

        // A failed run: red nodes, the exit code, the attempts of the retried step.
        page.eval("history.pushState(null, '', '/ui/runs/default/flaky'); dispatchEvent(new PopStateEvent('popstate'))").unwrap();
        page.wait("document.querySelector('.page-header .pill')?.innerText === 'Failed'", "the flaky run to fail");
        page.click(".gnode[aria-label^='broken:']");
        page.wait("document.querySelector('.node-detail')?.innerText.toLowerCase().includes('exit code\\n3')", "the exit code");
        page.wait("document.querySelector('.log-lines')?.innerText.includes('broken')", "the failed step's stderr");
        assert_eq!(page.eval("document.querySelector('.log-line.stream-stderr')?.innerText").unwrap(), json!("broken"));
        page.click(".gnode.type-Retry");
        page.wait("document.querySelector('.node-detail')?.innerText.toLowerCase().includes('attempts\\n2')", "the attempts");
        page.click(".gnode[aria-label^='retried(0):']");
        page.wait("document.querySelector('.node-detail')?.innerText.toLowerCase().includes('attempt\\n1 of 2')", "which attempt");
        page.click(".gnode[aria-label^='broken:']");
        page.screenshot(&shots.join("17-run-failed.png"));
        confirm(&page, "retry", None);
        page.wait("document.querySelector('.page-header .pill')?.innerText === 'Succeeded'", "the retried run to succeed");
        page.wait("document.querySelector('.gnode[aria-label^=\"broken: Succeeded\"]')", "the broken step to pass");

        // A run that would go on for ten minutes, stopped.
        page.eval("history.pushState(null, '', '/ui/runs/default/endless'); dispatchEvent(new PopStateEvent('popstate'))").unwrap();
        page.wait("document.querySelector('.log-lines')?.innerText.includes('started')", "the running step's live log");
        page.wait("document.querySelector('.log-state.live')", "the log to be live");
        page.screenshot(&shots.join("18-run-live-log.png"));
        confirm(&page, "stop", Some("not needed"));
        page.wait("['Failed', 'Error'].includes(document.querySelector('.page-header .pill')?.innerText)", "the stopped run to end");
        assert_eq!(page.eval("document.querySelectorAll('.run-actions button[data-action=stop]').length").unwrap(), json!(0));
        still_marked(&page, "admin");
        clean(&page, &base, "the admin", &[]);
    })
    .await
    .unwrap();
}
