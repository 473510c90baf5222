//! The shell's commands on Tauri's mock runtime: through the IPC with the app's real
//! capability (what the UI may call), and a streamed generation captured from its Channel.

use std::sync::{Arc, Mutex};

use fin_r1_core::store::MessageStatus;
use fin_r1_desktop::commands::{self, SendRequest};
use fin_r1_desktop::state::AppState;
use fin_r1_desktop::stream::{StreamMessage, MAX_BATCH_BYTES};
use fin_r1_engine::{ErrorKind, GenerationEvent};
use fin_r1_tests::{scratch_dir, tiny_qwen2, TinySpec, THINKING_SCRIPT};
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, Channel, InvokeBody, InvokeResponseBody};
use tauri::test::{get_ipc_response, mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager, WebviewWindow, WebviewWindowBuilder};

fn app(name: &str) -> (App<MockRuntime>, WebviewWindow<MockRuntime>) {
    let data = scratch_dir().join(format!("shell-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let app = mock_builder().invoke_handler(fin_r1_desktop::bindings::invoke_handler()).build(tauri::generate_context!()).expect("mock app");
    fin_r1_desktop::setup(&app, data).expect("setup");
    let window = WebviewWindowBuilder::new(&app, "main", Default::default()).build().expect("window");
    (app, window)
}

fn invoke(window: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    get_ipc_response(
        window,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().expect("url"),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|body| body.deserialize::<Value>().expect("json"))
}

#[test]
fn the_ui_reaches_its_commands_through_the_capability() {
    let (_app, window) = app("ipc");
    let list = invoke(&window, "list_scenarios", json!({})).expect("list_scenarios");
    let ids: Vec<&str> = list["scenarios"].as_array().expect("scenarios").iter().filter_map(|s| s["id"].as_str()).collect();
    for id in ["compliance", "risk-control", "investment-advisory", "esg", "calculation", "financial-code", "english-finance"] {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }
    let html = invoke(&window, "render_markdown", json!({ "markdown": "**PV** <img src=x onerror=alert(1)> $x^2$" })).expect("render");
    let html = html.as_str().expect("html");
    assert!(html.contains("<strong>PV</strong>") && html.contains("<math") && !html.contains("onerror"), "{html}");
    assert_eq!(invoke(&window, "list_conversations", json!({})).expect("list"), json!([]));
    // The backups, through the window's capability (once refused there: not allowed by ACL).
    let made = invoke(&window, "create_backup", json!({})).expect("create_backup");
    assert_eq!(made["reason"], "manual");
    let listed = invoke(&window, "list_backups", json!({})).expect("list_backups");
    assert_eq!(listed["backups"][0]["file_name"], made["file_name"]);
    let chosen = invoke(&window, "restore_backup_on_restart", json!({ "path": made["path"] })).expect("restore_backup_on_restart");
    assert_eq!(chosen["restore_on_restart"], made["path"]);
    let err = invoke(&window, "restore_backup_on_restart", json!({ "path": "/etc/passwd" })).expect_err("not a backup");
    assert!(err.to_string().contains("is not one of the backups"), "{err}");
    invoke(&window, "restore_backup_on_restart", json!({ "path": null })).expect("taken back");
    let info = invoke(&window, "app_info", json!({})).expect("app_info");
    assert!(info["model"].is_null());
    // The page may keep its own preferences, not change what the shell trusts.
    let err = invoke(&window, "set_setting", json!({ "key": "model.path", "value": "/etc/passwd" })).expect_err("guarded");
    assert!(err.to_string().contains("cannot read or set"), "{err}");
    invoke(&window, "set_setting", json!({ "key": "ui.sidebar", "value": true })).expect("a ui. key");
    assert_eq!(invoke(&window, "get_setting", json!({ "key": "ui.sidebar" })).expect("read back"), json!(true));
    // A command the app does not have is refused.
    assert!(invoke(&window, "read_any_file", json!({ "path": "/etc/passwd" })).is_err());
    // Links: only http(s) and mailto leave the app.
    let err = invoke(&window, "open_external", json!({ "url": "file:///etc/passwd" })).expect_err("refused");
    assert!(err.to_string().contains("not an http(s) or mailto link"), "{err}");
}

/// Collects what the shell sends down a channel.
type Received = Arc<Mutex<Vec<(usize, StreamMessage)>>>;

fn channel() -> (Channel<StreamMessage>, Received) {
    let got: Received = Arc::default();
    let sink = got.clone();
    let ch = Channel::new(move |body: InvokeResponseBody| {
        let text = match body {
            InvokeResponseBody::Json(s) => s,
            InvokeResponseBody::Raw(b) => String::from_utf8(b).expect("utf-8"),
        };
        let msg: StreamMessage = serde_json::from_str(&text).expect("a stream message");
        sink.lock().expect("lock").push((text.len(), msg));
        Ok(())
    });
    (ch, got)
}

#[test]
fn a_streamed_turn_arrives_on_the_channel_and_in_the_store() {
    let (app, _window) = app("stream");
    let state = app.state::<AppState>();
    let model = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    tauri::async_runtime::block_on(async {
        let no_model = SendRequest {
            conversation_id: None,
            turn: fin_r1_core::runner::TurnKind::Ask { question: "PV?".into() },
            scenario: Some("calculation".into()),
            form: Default::default(),
            lang: Some(fin_r1_core::scenario::Lang::En),
            sampling: Default::default(),
            attachments: Vec::new(),
            library: None,
            keep_attachments: None,
        };
        let (ch, _) = channel();
        let err = commands::send_message(app.state(), no_model.clone(), ch).await.expect_err("no model");
        assert_eq!(err.kind(), fin_r1_engine::ErrorKind::NoModel);

        let summary = commands::load_model(app.state(), model.clone()).await.expect("load");
        assert_eq!(summary.path, model);
        // The chosen file joins the model library (checked and hashed in the background).
        let mut listed = Vec::new();
        for _ in 0..100 {
            listed = commands::list_models(app.state()).await.expect("library");
            if !listed.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(listed.len(), 1, "the loaded model is in the library");
        assert_eq!(listed[0].sha256.as_deref().map(str::len), Some(64));
        let mut request = no_model;
        request.sampling = Some(fin_r1_core::runner::SamplingOverrides { temperature: Some(0.0), ..Default::default() });
        let (ch, got) = channel();
        let turn = commands::send_message(app.state(), request, ch).await.expect("turn");
        let got = got.lock().expect("lock").clone();
        let StreamMessage::Started { conversation_id, answer_id, created, .. } = &got[0].1 else { panic!("started first: {got:?}") };
        assert!(*created);
        assert_eq!((*conversation_id, *answer_id), (turn.conversation_id, turn.answer.id));
        // The stored status follows the last event, told by the shell (the page maps nothing).
        assert!(matches!(got.last(), Some((_, StreamMessage::Ended { status: MessageStatus::Complete }))), "{got:?}");
        let events: Vec<GenerationEvent> = got[1..got.len() - 1]
            .iter()
            .flat_map(|(_, m)| match m {
                StreamMessage::Events { events } => events.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        let text = |want: fn(&GenerationEvent) -> Option<&String>| events.iter().filter_map(want).cloned().collect::<String>();
        let reasoning = text(|e| if let GenerationEvent::Reasoning { text } = e { Some(text) } else { None });
        let answer = text(|e| if let GenerationEvent::Answer { text } = e { Some(text) } else { None });
        assert_eq!(reasoning.trim(), "Discount the cash flow twice at five percent");
        assert_eq!(answer.trim(), "The present value is about $907");
        assert!(matches!(events.last(), Some(GenerationEvent::Done(_))), "{events:?}");
        assert!(events.iter().any(|e| matches!(e, GenerationEvent::Usage(_))));
        // Batched: fewer messages than events of text, each under the size limit.
        assert!(got.iter().all(|(n, _)| *n <= MAX_BATCH_BYTES + 512), "{:?}", got.iter().map(|g| g.0).collect::<Vec<_>>());
        // What streamed is what was stored.
        assert_eq!(turn.answer.answer, answer);
        assert_eq!(turn.answer.reasoning, reasoning);
        let view = commands::open_conversation(app.state(), turn.conversation_id).await.expect("open");
        assert_eq!(view.active_path, vec![turn.question_id, turn.answer.id]);
        assert_eq!(view.conversation.scenario_id.as_deref(), Some("calculation"));
        let list = commands::list_conversations(app.state()).await.expect("list");
        assert_eq!(list.len(), 1);
        assert_eq!(state.store.search("present value", 5).await.expect("search").len(), 1);
    });
}

#[test]
fn stop_ends_a_streaming_answer_as_cancelled() {
    let (app, _window) = app("stop");
    let model = tiny_qwen2(&TinySpec::default());
    tauri::async_runtime::block_on(async {
        commands::load_model(app.state(), model).await.expect("load");
        let running = app.state::<AppState>().running.clone();
        let got: Arc<Mutex<Vec<StreamMessage>>> = Arc::default();
        let sink = got.clone();
        // The UI's Stop button: the answer's id arrives first, then the stop command.
        let ch = Channel::new(move |body: InvokeResponseBody| {
            let InvokeResponseBody::Json(s) = body else { return Ok(()) };
            let msg: StreamMessage = serde_json::from_str(&s).expect("message");
            if let StreamMessage::Started { answer_id, .. } = &msg {
                assert!(running.cancel(*answer_id), "the answer is registered as running");
            }
            sink.lock().expect("lock").push(msg);
            Ok(())
        });
        let request = SendRequest {
            conversation_id: None,
            turn: fin_r1_core::runner::TurnKind::Ask { question: "Write forever".into() },
            scenario: None,
            form: Default::default(),
            lang: None,
            sampling: Some(fin_r1_core::runner::SamplingOverrides { max_tokens: Some(30_000), ..Default::default() }),
            attachments: Vec::new(),
            library: None,
            keep_attachments: None,
        };
        let turn = commands::send_message(app.state(), request, ch).await.expect("turn");
        assert_eq!(turn.answer.status, fin_r1_core::store::MessageStatus::Cancelled);
        assert_eq!(turn.answer.stop_reason, Some(fin_r1_engine::StopReason::Cancelled));
        let got = got.lock().expect("lock");
        assert!(matches!(got.last(), Some(StreamMessage::Ended { status: MessageStatus::Cancelled })), "{got:?}");
        assert!(!app.state::<AppState>().running.is_busy(), "nothing left running");
    });
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn settings_of(window: &WebviewWindow<MockRuntime>) -> Value {
    invoke(window, "get_settings", json!({})).expect("get_settings")
}

/// A settings row an older build (or a damaged disk) left: what parses is kept, the rest falls
/// back, the user is told once; API keys are written and never read back.
#[test]
fn a_damaged_settings_row_is_recovered_and_keys_stay_write_only() {
    let data = scratch_dir().join(format!("shell-settings-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    tauri::async_runtime::block_on(async {
        let (store, _) = fin_r1_core::store::Store::open(&data).await.expect("store");
        drop(store);
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", data.join("conversations.sqlite3").display())).await.expect("sqlite");
        sqlx::query("INSERT INTO settings (key, value) VALUES ('app.settings', ?1)")
            .bind(r#"{"theme":"dark","threads":"many","first_run_done":true}"#)
            .execute(&pool)
            .await
            .expect("write the damaged row");
        pool.close().await;
    });
    let app = mock_builder().invoke_handler(fin_r1_desktop::bindings::invoke_handler()).build(tauri::generate_context!()).expect("mock app");
    fin_r1_desktop::setup(&app, data.clone()).expect("setup survives a damaged row");
    let window = WebviewWindowBuilder::new(&app, "main", Default::default()).build().expect("window");

    let info = invoke(&window, "app_info", json!({})).expect("app_info");
    assert_eq!(info["settings"]["theme"], "dark", "the readable field is kept");
    assert_eq!(info["settings"]["threads"], Value::Null, "the damaged one falls back");
    assert_eq!(info["settings"]["first_run_done"], true);
    let notices = info["notices"].as_array().expect("notices");
    assert!(notices.iter().any(|n| n.as_str().is_some_and(|n| n.contains("threads"))), "{notices:?}");
    let again = invoke(&window, "app_info", json!({})).expect("app_info");
    assert_eq!(again["notices"], json!([]), "told once");

    let mut settings = settings_of(&window)["settings"].clone();
    settings["remote"] = json!({ "enabled": false, "base_url": "http://10.0.0.5:8000/v1", "model": "Fin-R1" });
    settings["lang"] = json!("en");
    let saved = invoke(&window, "save_settings", json!({ "settings": settings, "remoteApiKey": "sk-very-secret-1", "serverApiKey": null })).expect("save");
    assert_eq!(saved["has_remote_key"], true);
    assert!(!saved.to_string().contains("sk-very-secret-1"));
    assert!(!settings_of(&window).to_string().contains("sk-very-secret-1"), "a key is never read back");
    // Not through the page's own key-value command either (it once read any row).
    for key in ["secret.remote.api_key", "secret.hub.token", "app.settings", "ui.", "uix.secret"] {
        let err = invoke(&window, "get_setting", json!({ "key": key })).expect_err(key);
        assert!(err.to_string().contains("cannot read or set"), "{key}: {err}");
    }
    let diagnostics = invoke(&window, "diagnostics", json!({})).expect("diagnostics");
    let diagnostics = diagnostics.as_str().expect("text");
    assert!(diagnostics.contains("Log folder:") && diagnostics.contains("Fin-R1 Desktop"), "{diagnostics}");
    assert!(!diagnostics.contains("sk-very-secret-1"));

    // What the page may not save: a server open to the network, an unknown theme.
    let mut open_server = settings.clone();
    open_server["server"]["host"] = json!("0.0.0.0");
    let err = invoke(&window, "save_settings", json!({ "settings": open_server, "remoteApiKey": null, "serverApiKey": null })).expect_err("refused");
    assert!(err.to_string().contains("loopback"), "{err}");
    let mut bad_theme = settings.clone();
    bad_theme["theme"] = json!("neon");
    assert!(invoke(&window, "save_settings", json!({ "settings": bad_theme, "remoteApiKey": null, "serverApiKey": null })).is_err());

    // Saved settings are what the next start reads.
    drop(window);
    drop(app);
    let app = mock_builder().invoke_handler(fin_r1_desktop::bindings::invoke_handler()).build(tauri::generate_context!()).expect("mock app");
    fin_r1_desktop::setup(&app, data).expect("setup");
    let window = WebviewWindowBuilder::new(&app, "main", Default::default()).build().expect("window");
    let info = invoke(&window, "app_info", json!({})).expect("app_info");
    assert_eq!(info["settings"]["lang"], "en");
    assert_eq!(info["settings"]["remote"]["base_url"], "http://10.0.0.5:8000/v1");
    assert_eq!(info["notices"], json!([]));
}

/// The settings toggle starts the OpenAI-compatible server on the loaded model, shows where it
/// listens, asks for the key when one is required, and stops it.
#[test]
fn the_api_server_starts_and_stops_from_settings() {
    let (app, window) = app("server");
    let model = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    tauri::async_runtime::block_on(commands::load_model(app.state(), model)).expect("load");
    let port = free_port();
    let mut settings = settings_of(&window)["settings"].clone();
    assert_eq!(settings["server"]["enabled"], false, "off by default");
    settings["server"] = json!({ "enabled": true, "host": "127.0.0.1", "port": port, "served_model_name": "Fin-R1", "require_key": true });
    let saved = invoke(&window, "save_settings", json!({ "settings": settings, "remoteApiKey": null, "serverApiKey": "team-key" })).expect("save");
    assert_eq!(saved["server"]["running"], true, "{saved}");
    let address = saved["server"]["address"].as_str().expect("address").to_owned();
    assert_eq!(address, format!("http://127.0.0.1:{port}/v1"));

    let http = reqwest::blocking::Client::new();
    let denied = http.get(format!("{address}/models")).send().expect("request");
    assert_eq!(denied.status().as_u16(), 401);
    let body: Value = http
        .post(format!("{address}/chat/completions"))
        .bearer_auth("team-key")
        .json(&json!({ "model": "Fin-R1", "messages": [{ "role": "user", "content": "PV?" }], "temperature": 0 }))
        .send()
        .expect("request")
        .json()
        .expect("json");
    assert_eq!(body["choices"][0]["message"]["content"].as_str().map(str::trim), Some("The present value is about $907"), "{body}");
    assert!(body["choices"][0]["message"]["reasoning_content"].as_str().is_some_and(|r| r.contains("Discount")), "{body}");
    let status = invoke(&window, "server_status", json!({})).expect("status");
    assert_eq!(status["completed"], 1, "{status}");

    settings["server"]["enabled"] = json!(false);
    let saved = invoke(&window, "save_settings", json!({ "settings": settings, "remoteApiKey": null, "serverApiKey": null })).expect("save");
    assert_eq!(saved["server"]["running"], false);
    assert!(http.get(format!("{address}/models")).send().is_err(), "nothing listens any more");
}

/// The app answering through a remote OpenAI-compatible server (here `fin-r1`'s own, in
/// process): reasoning arrives as Reasoning events, the stored answer names the remote engine,
/// a wrong key is a clear error; exported reports carry the provenance, not the key.
#[test]
fn a_remote_server_answers_with_its_reasoning_apart() {
    let (app, window) = app("remote");
    let model = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let remote = tauri::async_runtime::block_on(async {
        let engine = fin_r1_engine::Engine::load(&model, Default::default()).expect("engine");
        let mut config = fin_r1_core::server::ServerConfig::new("Fin-R1");
        config.api_key = Some("remote-key".into());
        fin_r1_core::server::start(Arc::new(engine), config, "127.0.0.1", 0).await.expect("server")
    });
    let mut settings = settings_of(&window)["settings"].clone();
    settings["remote"] = json!({ "enabled": true, "base_url": format!("http://{}/v1", remote.addr), "model": "Fin-R1" });
    invoke(&window, "save_settings", json!({ "settings": settings, "remoteApiKey": "wrong", "serverApiKey": null })).expect("save");
    let info = invoke(&window, "app_info", json!({})).expect("info");
    assert_eq!(info["model"]["engine"], "remote");
    let ask = |q: &str| SendRequest {
        conversation_id: None,
        turn: fin_r1_core::runner::TurnKind::Ask { question: q.into() },
        scenario: None,
        form: Default::default(),
        lang: Some(fin_r1_core::scenario::Lang::En),
        sampling: Some(fin_r1_core::runner::SamplingOverrides { temperature: Some(0.0), ..Default::default() }),
        attachments: Vec::new(),
        library: None,
        keep_attachments: None,
    };
    tauri::async_runtime::block_on(async {
        let (ch, _) = channel();
        // The failed turn is kept with its reason, shown where the answer would be.
        let failed = commands::send_message(app.state(), ask("PV?"), ch).await.expect("a stored turn");
        assert_eq!(failed.answer.status, fin_r1_core::store::MessageStatus::Error);
        assert_eq!(failed.answer.error_kind, Some(ErrorKind::Unauthorized));
        let message = failed.answer.error_message.clone().unwrap_or_default();
        assert!(message.contains("refused the API key") && !message.contains("wrong"), "{message}");
    });
    invoke(&window, "save_settings", json!({ "settings": settings, "remoteApiKey": "remote-key", "serverApiKey": null })).expect("save");
    let turn = tauri::async_runtime::block_on(async {
        let (ch, got) = channel();
        let turn = commands::send_message(app.state(), ask("What is the present value?"), ch).await.expect("turn");
        let events: Vec<GenerationEvent> = got
            .lock()
            .expect("lock")
            .iter()
            .filter_map(|(_, m)| if let StreamMessage::Events { events } = m { Some(events.clone()) } else { None })
            .flatten()
            .collect();
        let reasoning: String = events.iter().filter_map(|e| if let GenerationEvent::Reasoning { text } = e { Some(text.as_str()) } else { None }).collect();
        assert_eq!(reasoning.trim(), "Discount the cash flow twice at five percent");
        turn
    });
    assert_eq!(turn.answer.answer.trim(), "The present value is about $907");
    assert_eq!(turn.answer.reasoning.trim(), "Discount the cash flow twice at five percent");
    let engine = turn.answer.engine.as_ref().expect("provenance");
    assert_eq!(engine.engine, fin_r1_core::store::EngineKind::Remote);

    // The export dialog: a title, the reasoning left out, a path without its extension.
    let out = scratch_dir().join(format!("remote-memo-{}", std::process::id()));
    let written = invoke(
        &window,
        "export_conversation",
        json!({ "request": { "conversation_id": turn.conversation_id, "format": "md", "reasoning": "none", "messages": [turn.answer.id], "title": "PV memo", "path": out } }),
    )
    .expect("export");
    let written = std::path::PathBuf::from(written.as_str().expect("path"));
    assert_eq!(written.extension().and_then(|e| e.to_str()), Some("md"));
    let text = std::fs::read_to_string(&written).expect("report");
    assert!(text.contains("PV memo") && text.contains("The present value is about $907"), "{text}");
    assert!(!text.contains("Discount the cash flow"), "reasoning left out");
    assert!(text.contains("remote") && !text.contains("remote-key"), "{text}");
    let none =
        invoke(&window, "export_conversation", json!({ "request": { "conversation_id": turn.conversation_id, "format": "pdf", "messages": [], "path": out } }));
    assert!(none.is_err(), "no answers chosen");
    tauri::async_runtime::block_on(remote.stop());
}

/// The model manager: a catalog model downloaded from a (loopback) hub with progress on the
/// channel, stopped mid-way by the Cancel button, then resumed and added to the library.
#[test]
fn a_catalog_download_streams_progress_stops_and_resumes() {
    use fin_r1_desktop::commands::models::{DownloadModel, JobEvent};
    let (app, window) = app("download");
    let cache = scratch_dir().join(format!("shell-hf-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    std::env::set_var("HF_HOME", &cache);
    let hub = fin_r1_tests::hub::Hub::start();
    let model = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let bytes = std::fs::read(&model).expect("model bytes");
    let size = bytes.len() as u64;
    hub.add("mradermacher/Fin-R1-GGUF", "Fin-R1.Q4_K_M.gguf", bytes);
    hub.pace(size / 4);
    let mut settings = settings_of(&window)["settings"].clone();
    settings["hub_endpoint"] = json!(hub.endpoint());
    invoke(&window, "save_settings", json!({ "settings": settings, "remoteApiKey": null, "serverApiKey": null })).expect("save");
    let catalog = invoke(&window, "model_catalog", json!({})).expect("catalog");
    assert_eq!(catalog["endpoint"], hub.endpoint());
    assert!(catalog["models"].as_array().expect("models").iter().any(|m| m["entry"]["repo"] == "mradermacher/Fin-R1-GGUF"));

    let events: Arc<Mutex<Vec<JobEvent>>> = Arc::default();
    let sink = events.clone();
    let ch = Channel::new(move |body: InvokeResponseBody| {
        let InvokeResponseBody::Json(s) = body else { return Ok(()) };
        sink.lock().expect("lock").push(serde_json::from_str::<JobEvent>(&s).expect("a job event"));
        Ok(())
    });
    let request = DownloadModel { catalog_id: Some("fin-r1-q4_k_m".into()), repo: None, file: None, revision: None, target: None };
    let stopper = app.handle().clone();
    let watched = events.clone();
    let stop = std::thread::spawn(move || {
        // Cancel once bytes are arriving.
        for _ in 0..400 {
            if watched.lock().expect("lock").iter().any(|e| matches!(e, JobEvent::Progress { done, .. } if *done > 0)) {
                return tauri::async_runtime::block_on(commands::models::cancel_model_job(stopper.state())).expect("cancel");
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        false
    });
    let first = tauri::async_runtime::block_on(commands::models::download_model(app.state(), request.clone(), ch));
    assert!(stop.join().expect("thread"), "the job was running when cancelled");
    let err = first.expect_err("cancelled");
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    {
        let events = events.lock().expect("lock");
        assert!(matches!(events.first(), Some(JobEvent::Source { file, .. }) if file == "Fin-R1.Q4_K_M.gguf"), "{events:?}");
        assert!(events.iter().any(|e| matches!(e, JobEvent::Start { total, .. } if *total == size)), "{events:?}");
    }
    // The job has ended by the time the command returns: the slot is free.
    assert_eq!(invoke(&window, "model_catalog", json!({})).expect("catalog")["busy"], false);

    let ch = Channel::new(|_: InvokeResponseBody| Ok(()));
    let got = tauri::async_runtime::block_on(commands::models::download_model(app.state(), request, ch)).expect("second try");
    assert_eq!(got.repo.as_deref(), Some("mradermacher/Fin-R1-GGUF"));
    assert_eq!(got.file_name, "Fin-R1.Q4_K_M.gguf", "the snapshot's name, not the blob's hash");
    let library = invoke(&window, "model_catalog", json!({})).expect("catalog")["library"].clone();
    assert_eq!(library.as_array().map(Vec::len), Some(1), "{library}");
    let loaded = tauri::async_runtime::block_on(commands::load_model(app.state(), std::path::PathBuf::from(&got.path))).expect("the download runs");
    assert_eq!(loaded.file_name, "Fin-R1.Q4_K_M.gguf");
}

/// Sync commands run on the GTK main thread: while an answer streams, one that renders or
/// touches the disk freezes the window (render_markdown and about once did, every 100 ms). Only
/// these may stay sync, each returning at once without I/O.
#[test]
fn no_command_blocks_the_main_thread() {
    const MAY_BE_SYNC: &[&str] = &["renderer_css"];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/commands");
    let mut sync = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("commands dir") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            if l.trim() != "#[tauri::command]" {
                continue;
            }
            let sig = lines[i + 1..].iter().find(|l| !l.trim_start().starts_with("#[") && !l.trim_start().starts_with("//")).expect("signature");
            if !sig.contains("async fn") {
                let name = sig.split("fn ").nth(1).and_then(|r| r.split(['(', '<']).next()).unwrap_or(sig).to_owned();
                if !MAY_BE_SYNC.contains(&name.as_str()) {
                    sync.push(format!("{}: {name}", path.display()));
                }
            }
        }
    }
    assert!(sync.is_empty(), "sync commands run on the main thread: {sync:?}");
}

/// Issue 18 through the shell: a file read for the window (its pages told on the channel) goes
/// with the question without being read again; a file that cannot be read is refused before
/// anything is stored; the stored attachment's text is what the extracted view shows.
#[test]
fn a_document_read_for_the_window_goes_with_the_question() {
    use fin_r1_desktop::commands::documents;
    // The app reads through itself (its `main` serves `documents extract --child`); this test
    // binary does not, so it reads through `fin-r1`, which does the same.
    std::env::set_var("FIN_R1_READER", fin_r1_tests::fin_r1_bin());
    let (app, _window) = app("documents");
    let model = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let pdf = fin_r1_tests::repo_data("documents/annual-report.pdf");
    tauri::async_runtime::block_on(async {
        commands::load_model(app.state(), model).await.expect("load");
        let progress: Arc<Mutex<Vec<Value>>> = Arc::default();
        let sink = progress.clone();
        let ch = Channel::new(move |body: InvokeResponseBody| {
            if let InvokeResponseBody::Json(s) = body {
                sink.lock().expect("lock").push(serde_json::from_str(&s).expect("progress"));
            }
            Ok(())
        });
        let preview = documents::read_document(app.state(), pdf.clone(), ch).await.expect("read");
        assert_eq!((preview.meta.kind.as_str(), preview.meta.pages), ("pdf", Some(5)));
        assert!(preview.markdown.contains("| Operating margin | 12.5% | 11.1% | 10.0% |"));
        let last = progress.lock().expect("lock").last().cloned().expect("told its pages");
        assert_eq!(last, json!({ "done": 5, "total": 5 }));

        let missing = SendRequest {
            conversation_id: None,
            turn: fin_r1_core::runner::TurnKind::Ask { question: "Margin?".into() },
            scenario: None,
            form: Default::default(),
            lang: None,
            sampling: None,
            attachments: vec![pdf.clone(), "/nonexistent/ledger.xlsx".into()],
            library: None,
            keep_attachments: None,
        };
        let (ch, _) = channel();
        let err = commands::send_message(app.state(), missing, ch).await.expect_err("an unreadable file");
        assert!(err.to_string().contains("/nonexistent/ledger.xlsx"), "{err}");
        assert!(app.state::<AppState>().store.list_conversations(10).await.expect("list").is_empty(), "nothing stored");

        // The refused send took the PDF read for it: it is read again, the same.
        let ok = SendRequest { attachments: vec![pdf.clone()], ..missing_without_files() };
        let (ch, _) = channel();
        let turn = commands::send_message(app.state(), ok, ch).await.expect("turn");
        let docs = commands::conversation_attachments(app.state(), turn.conversation_id).await.expect("attachments");
        assert_eq!(docs.len(), 1);
        assert_eq!((docs[0].meta.file_name.as_str(), docs[0].meta.pages), ("annual-report.pdf", Some(5)));
        let text = documents::attachment_text(app.state(), docs[0].id).await.expect("text");
        assert!(text.included.contains("Operating margin") && text.text.contains("[p. 3]"), "{}", text.included);
    });
}

fn missing_without_files() -> SendRequest {
    SendRequest {
        conversation_id: None,
        turn: fin_r1_core::runner::TurnKind::Ask { question: "What was the operating margin in 2024?".into() },
        scenario: None,
        form: Default::default(),
        lang: None,
        sampling: None,
        attachments: Vec::new(),
        library: None,
        keep_attachments: None,
    }
}

/// The Evaluate page's runs: another server evaluated with its API key (kept as Settings keeps
/// keys, never sent back, never in the run's files), greedy unless a temperature is given; the
/// judge gets its own key; a run folder named in Chinese with a space is added, opened and exported.
#[test]
fn an_evaluation_of_a_keyed_server_keeps_its_key_and_opens_any_run_name() {
    use fin_r1_desktop::commands::eval::{self, EvalRequest};
    let (app, window) = app("eval");
    let model = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let remote = tauri::async_runtime::block_on(async {
        let engine = fin_r1_engine::Engine::load(&model, Default::default()).expect("engine");
        let mut config = fin_r1_core::server::ServerConfig::new("Fin-R1");
        config.api_key = Some("eval-key-123".into());
        fin_r1_core::server::start(Arc::new(engine), config, "127.0.0.1", 0).await.expect("server")
    });
    let url = format!("http://{}/v1", remote.addr);
    let dir = scratch_dir().join(format!("shell-eval-items-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let items = dir.join("items.jsonl");
    let lines: String = ["pv-1", "pv-2"]
        .iter()
        .map(|id| {
            json!({"id": id, "bench": "own", "category": "pv", "kind": "numeric", "question": "PV of $1,000 in 2 years at 5%?", "answer": "907"}).to_string()
                + "\n"
        })
        .collect();
    std::fs::write(&items, lines).expect("items");
    let request = |key: Value, judge_key: Value, temperature: Value| -> EvalRequest {
        serde_json::from_value(json!({
            "bench": "jsonl", "data": items, "limit": 5, "max_tokens": 64, "temperature": temperature,
            "remote": { "url": url, "model": "Fin-R1", "api_key": key },
            "judge": "llm", "judge_server": { "url": url, "model": "Fin-R1", "api_key": judge_key },
        }))
        .expect("the page's request")
    };
    let run = |r: EvalRequest| tauri::async_runtime::block_on(eval::eval_start(app.state(), r, Channel::new(|_| Ok(())))).expect("a run");

    let first = run(request(json!("eval-key-123"), json!("eval-key-123"), Value::Null));
    assert_eq!((first.planned, first.answered), (2, 2), "the server took the key: {first:?}");
    let files: String = std::fs::read_dir(&first.path).expect("run").filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok()).collect();
    assert!(!files.contains("eval-key-123"), "no key in the run's files");
    let judged = std::fs::read_to_string(first.path.join("judgements.jsonl")).expect("judgements");
    assert!(!judged.contains("the judge failed"), "the judge took its key: {judged}");
    let keys = invoke(&window, "eval_keys", json!({})).expect("eval_keys");
    assert_eq!(keys, json!({ "remote": true, "judge": true }));

    // The key kept is used when the field is left empty; a temperature given is used.
    let second = run(request(Value::Null, Value::Null, json!(0.7)));
    assert_eq!(second.answered, 2, "the kept key was sent: {second:?}");
    let opened = invoke(&window, "eval_run", json!({ "id": first.id })).expect("eval_run");
    assert_eq!(opened["config"]["sampling"]["temperature"], 0.0, "greedy by default");
    let opened = invoke(&window, "eval_run", json!({ "id": second.id })).expect("eval_run");
    let t = opened["config"]["sampling"]["temperature"].as_f64().expect("temperature");
    assert!((t - 0.7).abs() < 1e-6, "{t}");
    assert!(!opened.to_string().contains("eval-key-123") && !invoke(&window, "eval_runs", json!({})).expect("runs").to_string().contains("eval-key-123"));

    // The kept key belongs to the server it was typed for: another server named later is not
    // sent it (this one would take it: it has the same key), so its answers are refused.
    let other = tauri::async_runtime::block_on(async {
        let engine = fin_r1_engine::Engine::load(&model, Default::default()).expect("engine");
        let mut config = fin_r1_core::server::ServerConfig::new("Fin-R1");
        config.api_key = Some("eval-key-123".into());
        fin_r1_core::server::start(Arc::new(engine), config, "127.0.0.1", 0).await.expect("server")
    });
    let other_url = format!("http://{}/v1", other.addr);
    let elsewhere: EvalRequest = serde_json::from_value(json!({
        "bench": "jsonl", "data": items, "limit": 5, "max_tokens": 64,
        "remote": { "url": other_url, "model": "Fin-R1" }, "judge": "rule",
    }))
    .expect("the page's request");
    let third = run(elsewhere);
    assert_eq!(third.answered, 0, "the key kept for {url} went to {other_url}: {third:?}");

    // A run folder named in Chinese, with a space, made elsewhere: added, opened, exported.
    let elsewhere = dir.join("季度 评测");
    std::fs::create_dir_all(&elsewhere).expect("dir");
    for f in ["config.json", "items.jsonl", "predictions.jsonl", "reviews.jsonl", "report.json"] {
        std::fs::copy(first.path.join(f), elsewhere.join(f)).expect(f);
    }
    let added = invoke(&window, "eval_add", json!({ "path": elsewhere })).expect("eval_add");
    assert_eq!((added["run"]["id"].as_str(), &added["skipped_links"]), (Some("季度 评测"), &json!([])));
    let opened = invoke(&window, "eval_run", json!({ "id": "季度 评测" })).expect("a Chinese name with a space opens");
    assert_eq!(opened["summary"]["answered"], 2);
    let out = dir.join("季度 评测 报告");
    let written = invoke(&window, "eval_export", json!({ "request": { "id": "季度 评测", "format": "html", "path": out } })).expect("export");
    assert!(std::fs::read_to_string(written.as_str().expect("path")).expect("report").contains("季度 评测"));
    for bad in ["../shell-eval-items", "季度", ""] {
        assert!(invoke(&window, "eval_run", json!({ "id": bad })).is_err(), "{bad:?}");
    }
    tauri::async_runtime::block_on(remote.stop());
}
