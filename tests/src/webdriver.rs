//! Just enough of the W3C WebDriver protocol to drive the desktop app through `tauri-driver`
//! (which hands the session to WebKitWebDriver): find, click, type, read text, run a script.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

/// The W3C key for an element reference in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Session {
    http: reqwest::blocking::Client,
    base: String,
    id: String,
}

impl Session {
    /// A session running `application` (the app binary), with extra environment for it.
    pub fn start(driver: &str, application: &std::path::Path, args: &[&str]) -> Result<Self> {
        let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(180)).build()?;
        let caps = json!({
            "capabilities": { "alwaysMatch": {
                "tauri:options": { "application": application, "args": args }
            }}
        });
        let v: Value = http.post(format!("{driver}/session")).json(&caps).send()?.json()?;
        let id = v["value"]["sessionId"].as_str().ok_or_else(|| anyhow!("no session: {v}"))?.to_owned();
        Ok(Self { http, base: format!("{driver}/session/{id}"), id })
    }

    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().with_context(|| path.to_owned())?.json()?;
        if let Some(err) = v["value"]["error"].as_str() {
            bail!("{path}: {err}: {}", v["value"]["message"]);
        }
        Ok(v["value"].clone())
    }

    pub fn find(&self, css: &str) -> Result<String> {
        let v = self.call(reqwest::Method::POST, "/element", Some(json!({ "using": "css selector", "value": css })))?;
        v[ELEMENT].as_str().map(str::to_owned).ok_or_else(|| anyhow!("no element {css}: {v}"))
    }

    pub fn find_all(&self, css: &str) -> Result<Vec<String>> {
        let v = self.call(reqwest::Method::POST, "/elements", Some(json!({ "using": "css selector", "value": css })))?;
        Ok(v.as_array().map(|a| a.iter().filter_map(|e| e[ELEMENT].as_str().map(str::to_owned)).collect()).unwrap_or_default())
    }

    /// Waits until `css` matches an element.
    pub fn wait_for(&self, css: &str, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.find(css) {
                Ok(e) => return Ok(e),
                Err(e) if Instant::now() > deadline => return Err(e.context(format!("waited {timeout:?} for {css}"))),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    /// Waits until `check` holds for the text of `css`.
    pub fn wait_text(&self, css: &str, timeout: Duration, check: impl Fn(&str) -> bool) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            // innerText: WebKitWebDriver's element text leaves out text in an element that clips
            // its overflow with an ellipsis.
            let js = format!("const e = document.querySelector({}); return e ? e.innerText : null;", json!(css));
            let text = self.script(&js).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            if check(&text) {
                return Ok(text);
            }
            if Instant::now() > deadline {
                bail!("waited {timeout:?} for the text of {css}; last: {text:?}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn click(&self, element: &str) -> Result<()> {
        self.call(reqwest::Method::POST, &format!("/element/{element}/click"), Some(json!({})))?;
        Ok(())
    }

    pub fn click_css(&self, css: &str) -> Result<()> {
        let e = self.find(css)?;
        self.click(&e)
    }

    pub fn type_into(&self, element: &str, text: &str) -> Result<()> {
        self.call(reqwest::Method::POST, &format!("/element/{element}/value"), Some(json!({ "text": text })))?;
        Ok(())
    }

    pub fn clear(&self, element: &str) -> Result<()> {
        self.call(reqwest::Method::POST, &format!("/element/{element}/clear"), Some(json!({})))?;
        Ok(())
    }

    pub fn text(&self, element: &str) -> Result<String> {
        Ok(self.call(reqwest::Method::GET, &format!("/element/{element}/text"), None)?.as_str().unwrap_or_default().to_owned())
    }

    pub fn script(&self, js: &str) -> Result<Value> {
        self.call(reqwest::Method::POST, "/execute/sync", Some(json!({ "script": js, "args": [] })))
    }

    /// Chooses `value` in a `<select>` (WebKitWebDriver cannot click native option lists).
    pub fn select(&self, css: &str, value: &str) -> Result<()> {
        let js = format!(
            "const e = document.querySelector({}); e.value = {}; e.dispatchEvent(new Event('change', {{ bubbles: true }})); return e.value;",
            json!(css),
            json!(value)
        );
        let got = self.script(&js)?;
        if got.as_str() != Some(value) {
            bail!("{css} has no option {value:?}");
        }
        Ok(())
    }

    /// Waits until a script returns a truthy value.
    pub fn wait_until(&self, js: &str, timeout: Duration) -> Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.script(js).unwrap_or(Value::Null);
            if !(v.is_null() || v == Value::Bool(false) || v == json!("") || v == json!(0)) {
                return Ok(v);
            }
            if Instant::now() > deadline {
                bail!("waited {timeout:?} for: {js}");
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Ends the session (which closes the app).
    pub fn end(self) -> Result<()> {
        self.http.delete(&self.base).send()?;
        Ok(())
    }
}
