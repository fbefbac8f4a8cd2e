//! Headless Chromium driven over its DevTools protocol, for browser tests.
//!
//! Chromium is started with `--remote-debugging-pipe`: it reads protocol messages from file
//! descriptor 3 and writes answers and events to descriptor 4, each a JSON text ended by a
//! NUL byte. A shell `exec` points those descriptors at the pipes of the child's stdin and
//! stdout, so no port is opened (nothing to race for, nothing another process can reach),
//! no driver binary has to match the browser's version, and no unsafe code is needed to
//! set up the descriptors. Calls are synchronous: one reader thread hands each answer to
//! the call waiting for its id and keeps events for the test to inspect.
//!
//! Shared by the portal crate's tests and the end-to-end test of the `switchyard` binary.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long one protocol call may take before the test gives up on the browser.
const CALL_LIMIT: Duration = Duration::from_secs(60);

/// Debian's Chromium, where installed.
pub fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

type Pending = Arc<Mutex<HashMap<u64, mpsc::Sender<Value>>>>;

pub struct Browser {
    child: Child,
    input: Mutex<ChildStdin>,
    next_id: AtomicU64,
    pending: Pending,
    events: Arc<Mutex<Vec<Value>>>,
}

impl Browser {
    /// Starts headless Chromium with its own profile in `profile`. Every host name but
    /// 127.0.0.1 resolves to nothing: a page that needs another origin fails visibly.
    pub fn launch(binary: &Path, profile: &Path) -> Browser {
        std::fs::create_dir_all(profile).unwrap();
        let log = std::fs::File::create(profile.join("chromium.log")).unwrap();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 </dev/null >/dev/null"#)
            .arg(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--remote-debugging-pipe",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-default-apps",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--mute-audio",
                "--force-color-profile=srgb",
                "--window-size=1440,900",
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let input = child.stdin.take().unwrap();
        let output = child.stdout.take().unwrap();
        let pending: Pending = Arc::default();
        let events: Arc<Mutex<Vec<Value>>> = Arc::default();
        {
            let pending = pending.clone();
            let events = events.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(output);
                let mut message = Vec::new();
                while reader.read_until(0, &mut message).unwrap_or(0) > 0 {
                    if message.last() == Some(&0) {
                        message.pop();
                    }
                    if let Ok(value) = serde_json::from_slice::<Value>(&message) {
                        match value.get("id").and_then(Value::as_u64) {
                            Some(id) => {
                                if let Some(tx) = pending.lock().unwrap().remove(&id) {
                                    let _ = tx.send(value);
                                }
                            }
                            None => events.lock().unwrap().push(value),
                        }
                    }
                    message.clear();
                }
            });
        }
        Browser {
            child,
            input: Mutex::new(input),
            next_id: AtomicU64::new(1),
            pending,
            events,
        }
    }

    /// One protocol call, on the browser (`session` None) or a page's session.
    pub fn call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = mpsc::channel();
        self.pending.lock().unwrap().insert(id, tx);
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            message["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        {
            let mut input = self.input.lock().unwrap();
            input
                .write_all(&bytes)
                .map_err(|e| format!("{method}: the browser is gone: {e}"))?;
            input.flush().map_err(|e| e.to_string())?;
        }
        let answer = rx
            .recv_timeout(CALL_LIMIT)
            .map_err(|_| format!("{method}: no answer from the browser"))?;
        match answer.get("error") {
            Some(e) => Err(format!(
                "{method}: {}",
                e["message"].as_str().unwrap_or("error")
            )),
            None => Ok(answer["result"].clone()),
        }
    }

    /// A fresh profile-like context: its own storage and cookies (a second person).
    pub fn new_context(&self) -> String {
        let r = self
            .call(None, "Target.createBrowserContext", json!({}))
            .unwrap();
        r["browserContextId"].as_str().unwrap().to_owned()
    }

    /// A new tab, in `context` or the default one, sized like a laptop screen.
    pub fn new_page(&self, context: Option<&str>) -> Page<'_> {
        let mut params = json!({"url": "about:blank"});
        if let Some(c) = context {
            params["browserContextId"] = json!(c);
        }
        let target = self.call(None, "Target.createTarget", params).unwrap();
        let target_id = target["targetId"].as_str().unwrap().to_owned();
        let attached = self
            .call(
                None,
                "Target.attachToTarget",
                json!({"targetId": target_id, "flatten": true}),
            )
            .unwrap();
        let session = attached["sessionId"].as_str().unwrap().to_owned();
        let page = Page {
            browser: self,
            session,
        };
        for domain in ["Page", "Runtime", "Network", "Log"] {
            page.call(&format!("{domain}.enable"), json!({})).unwrap();
        }
        page.set_viewport(1440, 900);
        page
    }

    /// Events received so far for `session`.
    pub fn events_of(&self, session: &str) -> Vec<Value> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e["sessionId"].as_str() == Some(session))
            .cloned()
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One tab.
pub struct Page<'b> {
    browser: &'b Browser,
    pub session: String,
}

impl Page<'_> {
    pub fn call(&self, method: &str, params: Value) -> Result<Value, String> {
        self.browser.call(Some(&self.session), method, params)
    }

    pub fn set_viewport(&self, width: u32, height: u32) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        )
        .unwrap();
    }

    /// Loads `url` and waits for the document (not the app's data) to be loaded.
    pub fn goto(&self, url: &str) {
        // A mark on the old document tells it apart from the new one.
        let _ = self.eval("window.__leaving = true");
        self.call("Page.navigate", json!({"url": url})).unwrap();
        self.wait(
            "!window.__leaving && document.readyState === 'complete' && location.href !== 'about:blank'",
            &format!("loading {url}"),
        );
    }

    /// Evaluates `expression` in the page (promises awaited), returning its JSON value.
    pub fn eval(&self, expression: &str) -> Result<Value, String> {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "awaitPromise": true, "returnByValue": true}),
        )?;
        if let Some(ex) = r.get("exceptionDetails") {
            let text = ex["exception"]["description"]
                .as_str()
                .or_else(|| ex["text"].as_str())
                .unwrap_or("exception");
            return Err(format!("{expression}: {text}"));
        }
        Ok(r["result"]["value"].clone())
    }

    /// Waits until `condition` (a JS expression) is truthy; returns its value. Fails the test
    /// with `what` and the page's visible text when it never is.
    pub fn wait(&self, condition: &str, what: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        let expr =
            format!("(() => {{ try {{ return ({condition}); }} catch (e) {{ return null; }} }})()");
        loop {
            if let Ok(v) = self.eval(&expr)
                && !matches!(v, Value::Null | Value::Bool(false))
                && v != json!("")
                && v != json!(0)
            {
                return v;
            }
            if Instant::now() > deadline {
                let text = self
                    .eval("document.body ? document.body.innerText.slice(0, 3000) : ''")
                    .unwrap_or_default();
                panic!(
                    "gave up waiting for {what} ({condition}); the page says:\n{}",
                    text.as_str().unwrap_or("")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for `selector` to be in the page and visible.
    pub fn wait_for(&self, selector: &str) {
        self.wait(
            &format!("(() => {{ const e = document.querySelector({s}); return !!e && e.getClientRects().length > 0; }})()", s = js(selector)),
            &format!("`{selector}` to appear"),
        );
    }

    /// The visible text of the first element matching `selector` ("" when none).
    pub fn text(&self, selector: &str) -> String {
        self.eval(&format!(
            "document.querySelector({})?.innerText ?? ''",
            js(selector)
        ))
        .unwrap()
        .as_str()
        .unwrap_or("")
        .to_owned()
    }

    /// Clicks the middle of the first element matching `selector` with the mouse, as a
    /// person would (a disabled or covered element does not get the click).
    pub fn click(&self, selector: &str) {
        self.wait_for(selector);
        let at = self
            .eval(&format!(
                // Two frames first: what the last keystroke changes (a message appearing or
                // going) is laid out before the target is measured.
                "(async () => {{ await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))); \
                 const e = document.querySelector({}); e.scrollIntoView({{block: 'center'}}); \
                 const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()",
                js(selector)
            ))
            .unwrap();
        let (x, y) = (at[0].as_f64().unwrap(), at[1].as_f64().unwrap());
        for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
            )
            .unwrap();
        }
    }

    /// Replaces the text of the input matching `selector` by typing `text` into it.
    pub fn type_into(&self, selector: &str, text: &str) {
        self.wait_for(selector);
        self.eval(&format!(
            "(() => {{ const e = document.querySelector({}); e.focus(); e.select?.(); }})()",
            js(selector)
        ))
        .unwrap();
        if text.is_empty() {
            self.call("Input.dispatchKeyEvent", json!({"type": "keyDown", "key": "Backspace", "code": "Backspace", "windowsVirtualKeyCode": 8})).unwrap();
            self.call("Input.dispatchKeyEvent", json!({"type": "keyUp", "key": "Backspace", "code": "Backspace", "windowsVirtualKeyCode": 8})).unwrap();
        } else {
            self.call("Input.insertText", json!({"text": text}))
                .unwrap();
        }
    }

    /// Presses Tab (moves the focus on, as a person leaving a field).
    pub fn tab(&self) {
        for kind in ["keyDown", "keyUp"] {
            self.call(
                "Input.dispatchKeyEvent",
                json!({"type": kind, "key": "Tab", "code": "Tab", "windowsVirtualKeyCode": 9}),
            )
            .unwrap();
        }
    }

    /// Chooses the option whose text is `label` in the select matching `selector`.
    pub fn select(&self, selector: &str, label: &str) {
        self.wait_for(selector);
        let ok = self
            .eval(&format!(
                "(() => {{ const s = document.querySelector({}); const o = [...s.options].find((o) => o.text === {});
                 if (!o) return false; s.focus(); s.value = o.value; s.dispatchEvent(new Event('change', {{bubbles: true}})); return true; }})()",
                js(selector),
                js(label)
            ))
            .unwrap();
        assert_eq!(ok, json!(true), "`{selector}` has no option `{label}`");
    }

    /// A PNG of the whole page (not only the viewport) at `path`.
    pub fn screenshot(&self, path: &Path) {
        // From the top: a page scrolled down would draw its sticky parts where they stood.
        self.eval("new Promise((r) => { window.scrollTo(0, 0); requestAnimationFrame(() => requestAnimationFrame(r)); })").unwrap();
        let metrics = self.call("Page.getLayoutMetrics", json!({})).unwrap();
        let height = metrics["cssContentSize"]["height"]
            .as_f64()
            .unwrap_or(900.0)
            .clamp(900.0, 6000.0);
        let shot = self
            .call(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": true,
                       "clip": {"x": 0, "y": 0, "width": 1440, "height": height, "scale": 1}}),
            )
            .unwrap();
        let png = base64_decode(shot["data"].as_str().unwrap());
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }

    /// Errors the page reported: uncaught exceptions, console errors, and browser log
    /// errors (a Content-Security-Policy violation is one).
    pub fn errors(&self) -> Vec<String> {
        let mut out = Vec::new();
        for e in self.browser.events_of(&self.session) {
            match e["method"].as_str() {
                Some("Runtime.exceptionThrown") => {
                    let d = &e["params"]["exceptionDetails"];
                    out.push(
                        d["exception"]["description"]
                            .as_str()
                            .or_else(|| d["text"].as_str())
                            .unwrap_or("exception")
                            .to_owned(),
                    );
                }
                Some("Runtime.consoleAPICalled") if e["params"]["type"] == "error" => {
                    out.push(e["params"]["args"].to_string());
                }
                Some("Log.entryAdded") if e["params"]["entry"]["level"] == "error" => {
                    let entry = &e["params"]["entry"];
                    out.push(format!(
                        "{}: {}",
                        entry["url"].as_str().unwrap_or(""),
                        entry["text"].as_str().unwrap_or("")
                    ));
                }
                _ => {}
            }
        }
        out
    }

    /// Every URL the page requested.
    pub fn requests(&self) -> Vec<String> {
        self.browser
            .events_of(&self.session)
            .iter()
            .filter(|e| e["method"] == "Network.requestWillBeSent")
            .filter_map(|e| e["params"]["request"]["url"].as_str().map(str::to_owned))
            .collect()
    }
}

/// A Rust string as a JavaScript string literal.
pub fn js(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// Standard base64 (the protocol's encoding of screenshots).
pub fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        let Some(v) = value(c) else { continue };
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

#[test]
fn base64_round_trips() {
    assert_eq!(base64_decode("aGVsbG8="), b"hello");
    assert_eq!(base64_decode("aGk="), b"hi");
    assert_eq!(base64_decode("AAEC/w=="), [0, 1, 2, 255]);
}
