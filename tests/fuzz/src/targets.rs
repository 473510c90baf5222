//! The fuzz targets' bodies: what each does with one input, as the app does it. The AFL
//! binaries (`src/bin/*`) call these; the workspace's `fuzz_regressions` test includes this file
//! (`#[path]`) and replays every input a fuzzer once crashed on, so both run the same code.
//! A panic here is a finding.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Writes `data` to a file of this process (in /dev/shm where it exists: a fuzzer writes it
/// thousands of times a second) and returns its path.
pub fn scratch(ext: &str, data: &[u8]) -> PathBuf {
    let dir = if std::path::Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
    let path = dir.join(format!("fin-r1-fuzz-{}.{ext}", std::process::id()));
    if let Err(e) = std::fs::write(&path, data) {
        // Not a finding of the target: stop the run rather than report a false crash.
        eprintln!("cannot write the scratch file {}: {e}", path.display());
        std::process::exit(2);
    }
    path
}

const BAD_TAGS: &[&str] = &[
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "form", "link", "meta", "base", "svg", "img", "video", "audio", "source", "template",
    "noscript", "applet", "textarea", "button", "select",
];
const URL_ATTRIBUTES: &[&str] = &["href", "src", "action", "formaction", "xlink:href", "data", "poster", "background", "cite"];

/// `Err` names what in `html` could run script, load something, or act for the page: a tag
/// that can, an event handler, a URL of another scheme than http(s)/mailto, a style attribute
/// other than text alignment. The HTML is as ammonia serialises it: every `<` outside a tag is
/// escaped, attribute values are double-quoted.
pub fn inert(html: &str) -> Result<(), String> {
    let b = html.as_bytes();
    let mut i = 0;
    while let Some(off) = html[i..].find('<') {
        i += off + 1;
        let closing = b.get(i) == Some(&b'/');
        if closing {
            i += 1;
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' && b[i] != b'/' {
            i += 1;
        }
        let tag = html[start..i].to_ascii_lowercase();
        if tag.is_empty() || !tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':') {
            let around: String = html[..start].chars().rev().take(20).collect::<Vec<_>>().into_iter().rev().chain(html[start..].chars().take(20)).collect();
            return Err(format!("a `<` that opens no tag at byte {start}: {around:?}"));
        }
        if BAD_TAGS.contains(&tag.as_str()) {
            return Err(format!("<{tag}> in the output"));
        }
        // Attributes up to the tag's end.
        loop {
            while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
                i += 1;
            }
            if i >= b.len() {
                return Err(format!("<{tag} is not closed"));
            }
            if b[i] == b'>' {
                i += 1;
                break;
            }
            let name_start = i;
            while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' && b[i] != b'>' && b[i] != b'/' {
                i += 1;
            }
            let name = html[name_start..i].to_ascii_lowercase();
            let mut value = String::new();
            if b.get(i) == Some(&b'=') {
                i += 1;
                if b.get(i) != Some(&b'"') {
                    return Err(format!("<{tag} {name}=…> has an unquoted value"));
                }
                i += 1;
                let v_start = i;
                while i < b.len() && b[i] != b'"' {
                    i += 1;
                }
                value = html[v_start..i.min(b.len())].to_owned();
                i += 1;
            }
            if name.starts_with("on") {
                return Err(format!("event handler {name} on <{tag}>"));
            }
            if name == "style" {
                let ok = value.split(';').map(str::trim).filter(|d| !d.is_empty()).all(|d| d.to_ascii_lowercase().starts_with("text-align"));
                if !ok || !matches!(tag.as_str(), "th" | "td") {
                    return Err(format!("style {value:?} on <{tag}>"));
                }
            }
            if URL_ATTRIBUTES.contains(&name.as_str()) {
                // The scheme is what a browser acts on: what comes before the first `:`, white
                // space and control characters dropped as browsers drop them. No scheme (a
                // relative URL) is refused too: the renderer is told to drop those.
                let url: String =
                    value.replace("&amp;", "&").chars().filter(|c| !c.is_whitespace() && !c.is_control()).collect::<String>().to_ascii_lowercase();
                let scheme = url.split_once(':').map(|(s, _)| s).filter(|s| !s.contains(['/', '?', '#']));
                if !matches!(scheme, Some("http" | "https" | "mailto")) {
                    return Err(format!("{name}={value:?} on <{tag}>"));
                }
            }
        }
    }
    Ok(())
}

/// The model loader on a hostile file: header, metadata, tensor table, tokenizer, chat
/// template, the weights' shapes and bytes, then a prompt prepared as a chat would.
pub fn gguf(data: &[u8]) {
    use fin_r1_engine::{ChatMessage, ContextPolicy, DeviceChoice, GenerationRequest, LoadOptions, Runtime};
    let path = scratch("gguf", data);
    let _ = fin_r1_engine::inspect::inspect(&path, false, None);
    let opts = LoadOptions { device: DeviceChoice::Cpu, context: Some(64), tokenizer: None, prefix_cache: None };
    if let Ok(rt) = Runtime::load(&path, &opts) {
        let req = GenerationRequest {
            tools: Vec::new(),
            messages: vec![ChatMessage::user("营业收入 4,822 − 4,286 = ? <think>")],
            system: None,
            sampling: None,
            context_policy: ContextPolicy::Error,
            shared_prefix: None,
        };
        let _ = rt.prepare(&req, 8);
    }
}

/// A conversation file from a colleague, as `fin-r1 import` and the app's Import read it.
pub fn conversation_json(data: &[u8]) {
    let path = scratch("json", data);
    if let Ok(file) = fin_r1_report::read_file(&path) {
        let _ = fin_r1_report::check_bounds(&file);
    }
}

/// A preset file someone shared: parsed, its form filled, written back and read again (what
/// Export then Import does).
pub fn preset_toml(data: &[u8]) {
    use fin_r1_core::scenario::{Lang, Scenario};
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(s) = Scenario::parse(text, "fuzz.toml") else { return };
    let values: BTreeMap<String, String> = s.fields.iter().map(|f| (f.name.clone(), "1,234.5 万元".to_owned())).collect();
    let _ = s.fill("What is the ratio?", &values, Lang::En);
    let _ = s.fill("比率是多少？", &BTreeMap::new(), Lang::Zh);
    let again = s.to_toml();
    if let Err(e) = Scenario::parse(&again, "exported.toml") {
        panic!("a preset that parsed does not parse once exported: {e}\n{again}");
    }
}

/// Model output (or an imported answer) rendered for the chat view and the reports: whatever
/// it says, the HTML stays inert. (Its math goes through the same sanitiser: `render::math`
/// alone writes MathML with a bare `<` for `a<b`, and is private to the renderer.)
pub fn markdown(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let html = fin_r1_report::render::render(&text);
    if let Err(e) = inert(&html) {
        panic!("rendered HTML is not inert: {e}\ninput: {text:?}\nhtml: {html}");
    }
}

/// A request body on the OpenAI-compatible server, read as the server reads it.
pub fn openai_request(data: &[u8]) {
    use fin_r1_core::openai::ChatCompletionRequest;
    use fin_r1_core::server::{to_engine_request, ServerConfig};
    let config = ServerConfig::new("fin-r1");
    if let Ok(body) = serde_json::from_slice::<ChatCompletionRequest>(data) {
        let _ = to_engine_request(&config, 4096, fin_r1_engine::ModelFamily::FinR1.default_sampling(), body);
    }
}

/// A benchmark file as `fin-r1 eval run --bench B --data FILE` reads it; the first byte picks
/// the adapter.
pub fn eval_adapters(data: &[u8]) {
    use fin_r1_eval::Bench;
    let Some((&pick, rest)) = data.split_first() else { return };
    let (bench, ext) = match pick % 6 {
        0 => (Bench::Convfinqa, "json"),
        1 => (Bench::Tatqa, "json"),
        2 => (Bench::Tfns, "csv"),
        3 => (Bench::FinEva, "csv"),
        4 => (Bench::Fineval, "csv"),
        _ => (Bench::Jsonl, "jsonl"),
    };
    let path = scratch(ext, rest);
    let _ = fin_r1_eval::load(bench, &path);
}

/// A document attached to a question, read as the reader child reads it.
pub fn document(ext: &str, data: &[u8]) {
    let path = scratch(ext, data);
    if let Ok(doc) = fin_r1_core::documents::extract(&path) {
        let _ = doc.to_markdown();
    }
}

/// A workbook: the first byte picks the format (the extension decides the reader, as in the app).
pub fn document_workbook(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else { return };
    document(["xlsx", "xls", "ods"][usize::from(pick % 3)], rest);
}
