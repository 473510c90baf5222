//! The shell's commands on Tauri's mock runtime: through the IPC with the app's real
//! capability (what the UI may call), and a streamed generation captured from its Channel.

use std::sync::{Arc, Mutex};

use fin_r1_desktop::commands::{self, SendRequest};
use fin_r1_desktop::state::AppState;
use fin_r1_desktop::stream::{StreamMessage, MAX_BATCH_BYTES};
use fin_r1_engine::GenerationEvent;
use fin_r1_tests::{scratch_dir, tiny_qwen2, TinySpec, THINKING_SCRIPT};
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, Channel, InvokeBody, InvokeResponseBody};
use tauri::test::{get_ipc_response, mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager, WebviewWindow, WebviewWindowBuilder};

fn app(name: &str) -> (App<MockRuntime>, WebviewWindow<MockRuntime>) {
    let data = scratch_dir().join(format!("shell-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let app = mock_builder()
        .invoke_handler(fin_r1_desktop::handler!())
        .build(tauri::generate_context!())
        .expect("mock app");
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
    let info = invoke(&window, "app_info", json!({})).expect("app_info");
    assert!(info["model"].is_null());
    // The page may keep its own preferences, not change what the shell trusts.
    let err = invoke(&window, "set_setting", json!({ "key": "model.path", "value": "/etc/passwd" })).expect_err("guarded");
    assert!(err.to_string().contains("cannot set"), "{err}");
    // A command the app does not have is refused.
    assert!(invoke(&window, "read_any_file", json!({ "path": "/etc/passwd" })).is_err());
    // Links: only http(s) and mailto leave the app.
    let err = invoke(&window, "open_external", json!({ "url": "file:///etc/passwd" })).expect_err("refused");
    assert!(err.to_string().contains("not an http(s) or mailto link"), "{err}");
}

/// Collects what the shell sends down a channel.
fn channel() -> (Channel<StreamMessage>, Arc<Mutex<Vec<(usize, StreamMessage)>>>) {
    let got: Arc<Mutex<Vec<(usize, StreamMessage)>>> = Arc::default();
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
            lang: Some("en".into()),
            sampling: Default::default(),
        };
        let (ch, _) = channel();
        let err = commands::send_message(app.state(), no_model.clone(), ch).await.expect_err("no model");
        assert_eq!(err.kind(), "no_model");

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
        request.sampling.temperature = Some(0.0);
        let (ch, got) = channel();
        let turn = commands::send_message(app.state(), request, ch).await.expect("turn");
        let got = got.lock().expect("lock").clone();
        let StreamMessage::Started { conversation_id, answer_id, created, .. } = &got[0].1 else { panic!("started first: {got:?}") };
        assert!(*created);
        assert_eq!((*conversation_id, *answer_id), (turn.conversation_id, turn.answer.id));
        let events: Vec<GenerationEvent> = got[1..]
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
            sampling: fin_r1_core::runner::SamplingOverrides { max_tokens: Some(100_000), ..Default::default() },
        };
        let turn = commands::send_message(app.state(), request, ch).await.expect("turn");
        assert_eq!(turn.answer.status, fin_r1_core::store::MessageStatus::Cancelled);
        assert_eq!(turn.answer.stop_reason.as_deref(), Some("cancelled"));
        assert!(!app.state::<AppState>().running.is_busy(), "nothing left running");
    });
}
