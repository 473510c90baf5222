//! The conversation store and runner as the CLI and the app use them: migrations, crash safety,
//! search in Chinese and English, concurrent readers, branches, soft delete.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fin_r1_core::backend::Backend;
use fin_r1_core::runner::{Runner, TurnKind, TurnRequest, TurnSink, TurnStarted};
use fin_r1_core::store::{EngineKind, EngineRef, MessageRole, MessageStatus, Outcome, Provenance, SearchField, Store, StoreError, STALE_AFTER};
use fin_r1_engine::{Engine, GenerationEvent, LoadOptions};
use fin_r1_tests::{fin_r1_bin, fixture, scratch_dir, tiny_qwen2, TinySpec, SMOLLM2_FILE, THINKING_SCRIPT};
use serde_json::Value;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

/// A fresh data folder per test.
fn data_dir(name: &str) -> PathBuf {
    let d = scratch_dir().join(format!("store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("data dir");
    d
}

/// One settled turn written straight into the store.
async fn turn(store: &Store, conversation: i64, question: &str, reasoning: &str, answer: &str) -> i64 {
    let leaf = store.conversation(conversation).await.expect("conversation").active_leaf_id;
    let q = store.add_question(conversation, leaf, question, None, None).await.expect("question");
    let p = Provenance { engine: EngineRef { engine: EngineKind::Local, ..Default::default() }, ..Default::default() };
    let a = store.begin_answer(conversation, q.id, &p).await.expect("begin");
    let o = Outcome { reasoning: reasoning.into(), answer: answer.into(), stop_reason: Some(fin_r1_engine::StopReason::End), ..Default::default() };
    store.finish_answer(a.id, &o).await.expect("finish");
    a.id
}

#[test]
fn migrations_run_from_empty_and_from_every_earlier_version() {
    rt().block_on(async {
        let latest = Store::schema_version();
        assert!(latest >= 2);
        for from in 0..latest {
            let dir = data_dir(&format!("migrate-{from}"));
            let file = dir.join("conversations.sqlite3");
            let old = Store::open_at_version(&file, from).await.expect("old store");
            assert_eq!(old.version().await.expect("version"), from);
            if from >= 1 {
                // What an older release wrote, in its own schema.
                sqlx::query("INSERT INTO conversations (id, uid, title, created_at, updated_at) VALUES (1, 'u-1', '旧的对话 old talk', 1, 1)")
                    .execute(old.pool())
                    .await
                    .expect("old conversation");
                sqlx::query(
                    "INSERT INTO messages (conversation_id, role, content, answer, status, created_at, updated_at) \
                     VALUES (1, 'user', '如何计算久期', '', 'complete', 1, 1), \
                            (1, 'assistant', '', 'Macaulay duration weights each cash flow', 'complete', 1, 1)",
                )
                .execute(old.pool())
                .await
                .expect("old messages");
            }
            old.close().await;

            let (store, _) = Store::open_file(&file).await.expect("migrated");
            assert_eq!(store.version().await.expect("version"), latest, "from version {from}");
            if from >= 1 {
                let hits = store.search("久期", 10).await.expect("search");
                assert_eq!(hits.len(), 1, "old question searchable after migrating from {from}: {hits:?}");
                let hits = store.search("macaulay", 10).await.expect("search");
                assert_eq!(hits.first().map(|h| h.field), Some(SearchField::Answer));
                assert_eq!(store.search("old talk", 10).await.expect("search")[0].field, SearchField::Title);
            }
            // A second open finds nothing left to do.
            store.close().await;
            let (again, _) = Store::open_file(&file).await.expect("reopen");
            assert_eq!(again.version().await.expect("version"), latest);
        }
    });
}

#[test]
fn a_store_from_a_newer_release_is_refused_with_a_clear_error() {
    rt().block_on(async {
        let dir = data_dir("newer");
        let (store, _) = Store::open(&dir).await.expect("open");
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) \
             VALUES (9999, 'from the future', CURRENT_TIMESTAMP, 1, x'00', 0)",
        )
        .execute(store.pool())
        .await
        .expect("future migration");
        store.close().await;
        let err = Store::open(&dir).await.expect_err("newer schema");
        assert!(matches!(err, StoreError::Newer { found: 9999, .. }), "{err}");
        assert!(err.to_string().contains("newer Fin-R1 Desktop"), "{err}");
    });
}

/// A preset's question is stored as the prompt its template filled in; search must find what the
/// analyst typed and the form's values, not the template's own words, which every conversation
/// of that preset shares. (They matched every one before migration 0004.)
#[test]
fn search_finds_a_presets_typed_question_and_fields_not_its_template() {
    rt().block_on(async {
        let dir = data_dir("search-preset");
        let file = dir.join("conversations.sqlite3");
        // Written by the previous release, then migrated: the old index is rebuilt too.
        let old = Store::open_at_version(&file, Store::schema_version() - 1).await.expect("old store");
        old.close().await;
        let (store, _) = Store::open_file(&file).await.expect("open");
        let template = "你是一名资深合规审查专家。请依据以下条文逐条审查：";
        for (title, typed, rule) in [("销售A", "这笔理财销售合规吗", "适当性管理办法第十九条"), ("销售B", "私募基金宣传材料", "私募投资基金募集行为管理办法")]
        {
            let c = store.create_conversation(title, Some("compliance"), None, None).await.expect("create");
            let form = fin_r1_core::store::QuestionForm {
                question: typed.into(),
                fields: [("rule".to_owned(), rule.to_owned()), ("facts".to_owned(), "客户风险等级C1".to_owned())].into(),
            };
            let filled = format!("{template}\n{rule}\n问题：{typed}");
            let q = store.add_question(c.id, None, &filled, Some("compliance"), Some(&form)).await.expect("question");
            let p = Provenance { engine: EngineRef { engine: EngineKind::Local, ..Default::default() }, ..Default::default() };
            let a = store.begin_answer(c.id, q.id, &p).await.expect("begin");
            store
                .finish_answer(a.id, &Outcome { answer: "结论：不合规".into(), stop_reason: Some(fin_r1_engine::StopReason::End), ..Default::default() })
                .await
                .expect("finish");
        }
        assert!(store.search("资深合规审查专家", 10).await.expect("search").is_empty(), "the template's words match nothing");
        let hits = store.search("理财销售", 10).await.expect("search");
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!((hits[0].title.as_str(), hits[0].field), ("销售A", SearchField::Question));
        assert!(hits[0].snippet.contains("这笔理财销售合规吗") && !hits[0].snippet.contains("专家"), "{}", hits[0].snippet);
        // A form value, long and short (the LIKE path).
        assert_eq!(store.search("第十九条", 10).await.expect("search").len(), 1);
        assert_eq!(store.search("募集", 10).await.expect("search").len(), 1);
        assert_eq!(store.search("C1", 10).await.expect("search").len(), 2);
        // A plain question is still found as sent.
        let c = store.create_conversation("久期", None, None, None).await.expect("create");
        turn(&store, c.id, "如何计算修正久期", "", "D / (1 + y)").await;
        assert_eq!(store.search("修正久期", 10).await.expect("search").len(), 1);
        store.close().await;
    });
}

#[test]
fn search_finds_chinese_phrases_and_english_words() {
    rt().block_on(async {
        let (store, _) = Store::open(&data_dir("search")).await.expect("open");
        let c = store.create_conversation("可转债估值", Some("calculation"), None, None).await.expect("create");
        turn(&store, c.id, "一只债券面值1000元，票面利率5%，请计算到期收益率", "先列出现金流，再用折现率求解。", "The yield to maturity is about 5.2%.").await;
        let other = store.create_conversation("ESG disclosure", None, None, None).await.expect("create");
        turn(&store, other.id, "Summarise the Scope 3 emissions disclosure", "", "Scope 3 covers the value chain.").await;

        // A three-character Chinese phrase (trigram index), inside a longer run of Chinese.
        let hits = store.search("收益率", 10).await.expect("search");
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!((hits[0].conversation_id, hits[0].field), (c.id, SearchField::Question));
        assert!(hits[0].snippet.contains("收益率"), "{}", hits[0].snippet);
        // A two-character word (too short for trigrams) and one in the reasoning.
        let hits = store.search("面值", 10).await.expect("search");
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(store.search("折现率", 10).await.expect("search")[0].field, SearchField::Reasoning);
        // English, any case; every word must occur.
        let hits = store.search("YIELD maturity", 10).await.expect("search");
        assert_eq!((hits.len(), hits[0].field), (1, SearchField::Answer));
        assert_eq!(store.search("scope", 10).await.expect("search").len(), 2, "title and question/answer hits");
        assert!(store.search("yield scope", 10).await.expect("search").is_empty());
        // Titles, and nothing for what is not there; odd input is not an error.
        assert_eq!(store.search("可转债", 10).await.expect("search")[0].field, SearchField::Title);
        assert!(store.search("derivatives", 10).await.expect("search").is_empty());
        for odd in ["\"", "AND OR NOT", "a*", "NEAR(", "%_\\", "'; DROP TABLE messages; --"] {
            store.search(odd, 10).await.unwrap_or_else(|e| panic!("{odd:?}: {e}"));
        }
        // A deleted conversation is not found.
        store.delete_conversation(c.id).await.expect("delete");
        assert!(store.search("收益率", 10).await.expect("search").is_empty());
    });
}

#[test]
fn readers_see_consistent_rows_while_an_answer_streams() {
    rt().block_on(async {
        let (store, _) = Store::open(&data_dir("concurrent")).await.expect("open");
        let c = store.create_conversation("concurrency", None, None, None).await.expect("create");
        let q = store.add_question(c.id, None, "q", None, None).await.expect("question");
        let a = store.begin_answer(c.id, q.id, &Provenance::default()).await.expect("begin");
        let writer = {
            let store = store.clone();
            tokio::spawn(async move {
                for n in 1..=300usize {
                    // Reasoning and answer grow together: one statement writes both.
                    store.checkpoint(a.id, &"r".repeat(n), &"a".repeat(n)).await.expect("checkpoint");
                }
                let o =
                    Outcome { reasoning: "r".repeat(300), answer: "a".repeat(300), stop_reason: Some(fin_r1_engine::StopReason::End), ..Default::default() };
                store.finish_answer(a.id, &o).await.expect("finish");
            })
        };
        let mut readers = Vec::new();
        for _ in 0..3 {
            let store = store.clone();
            readers.push(tokio::spawn(async move {
                let mut seen = 0;
                let mut last = 0;
                loop {
                    // Another connection of the pool, another handle: both see whole rows.
                    let m = store.message(a.id).await.expect("read");
                    assert_eq!(m.reasoning.len(), m.answer.len(), "a torn row");
                    assert!(m.answer.len() >= last, "text went backwards");
                    last = m.answer.len();
                    seen += 1;
                    if m.status == MessageStatus::Complete {
                        assert_eq!(m.answer.len(), 300);
                        return seen;
                    }
                    tokio::task::yield_now().await;
                }
            }));
        }
        // A second, independent store on the same file (as the app and `fin-r1` are).
        let (other, _) = Store::open_file(store.path()).await.expect("second handle");
        writer.await.expect("writer");
        for r in readers {
            assert!(r.await.expect("reader") > 0);
        }
        let m = other.message(a.id).await.expect("read");
        assert_eq!((m.status, m.answer.len()), (MessageStatus::Complete, 300));
    });
}

#[test]
fn deleting_is_undoable_until_purged() {
    rt().block_on(async {
        let (store, _) = Store::open(&data_dir("delete")).await.expect("open");
        let c = store.create_conversation("to delete", None, None, None).await.expect("create");
        turn(&store, c.id, "question", "", "answer").await;
        store.delete_conversation(c.id).await.expect("delete");
        assert!(store.list_conversations(10).await.expect("list").is_empty());
        assert!(store.resolve("latest").await.is_err());
        store.restore_conversation(c.id).await.expect("restore");
        assert_eq!(store.list_conversations(10).await.expect("list")[0].messages, 2);
        store.delete_conversation(c.id).await.expect("delete again");
        // Not yet old enough: kept.
        assert_eq!(store.purge_deleted(Duration::from_secs(3600)).await.expect("purge"), 0);
        assert_eq!(store.purge_deleted(Duration::ZERO).await.expect("purge"), 1);
        assert!(store.restore_conversation(c.id).await.is_err());
        assert!(store.messages(c.id).await.expect("messages").is_empty(), "messages go with it");
    });
}

/// Issue 26, item 3: the app died mid-answer and was started again within `STALE_AFTER`: the
/// open found the row fresh and left it `streaming`, and nothing marked it later — the window
/// showed no answer, no "interrupted", no Regenerate. The app now marks such rows once their
/// heartbeat has been silent for `STALE_AFTER`, never one it writes itself.
#[test]
fn an_answer_left_streaming_by_a_death_just_before_the_start_is_marked_once_stale() {
    rt().block_on(async {
        let dir = data_dir("died-just-now");
        let (store, _) = Store::open(&dir).await.expect("open");
        let c = store.create_conversation("dies", None, None, None).await.expect("create");
        let q = store.add_question(c.id, None, "What is the duration?", None, None).await.expect("q");
        let dead = store.begin_answer(c.id, q.id, &Provenance::default()).await.expect("begin");
        store.checkpoint(dead.id, "First the cash flows", "").await.expect("checkpoint");
        let q2 = store.add_question(c.id, Some(dead.id), "And the convexity?", None, None).await.expect("q2");
        let mine = store.begin_answer(c.id, q2.id, &Provenance::default()).await.expect("begin 2");
        store.close().await;
        // The restart, at once: both rows look alive.
        let (store, report) = Store::open(&dir).await.expect("reopen");
        assert_eq!(report.interrupted, 0);
        tokio::time::sleep(STALE_AFTER + Duration::from_millis(200)).await;
        assert_eq!(store.mark_interrupted_except(&[mine.id]).await.expect("mark"), 1);
        let status = |id: i64, msgs: &[fin_r1_core::store::Message]| msgs.iter().find(|m| m.id == id).map(|m| m.status);
        let msgs = store.messages(c.id).await.expect("messages");
        assert_eq!(status(dead.id, &msgs), Some(MessageStatus::Interrupted));
        assert_eq!(msgs.iter().find(|m| m.id == dead.id).map(|m| m.reasoning.as_str()), Some("First the cash flows"));
        assert_eq!(status(mine.id, &msgs), Some(MessageStatus::Streaming), "the caller's own answer is left alone");
    });
}

/// Collects what a turn sends its sink.
#[derive(Default)]
struct Collect {
    started: Option<TurnStarted>,
    reasoning: String,
    answer: String,
    done: bool,
}

impl TurnSink for Collect {
    fn started(&mut self, t: &TurnStarted) {
        self.started = Some(t.clone());
    }
    fn event(&mut self, ev: &GenerationEvent) {
        match ev {
            GenerationEvent::Reasoning { text } => self.reasoning.push_str(text),
            GenerationEvent::Answer { text } => self.answer.push_str(text),
            GenerationEvent::Done(_) => self.done = true,
            _ => {}
        }
    }
}

#[test]
fn the_runner_stores_turns_and_keeps_old_answers_as_branches() {
    let model = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let engine = Engine::load(&model, LoadOptions::default()).expect("load");
    rt().block_on(async {
        let (store, _) = Store::open(&data_dir("runner")).await.expect("open");
        let runner = Runner::new(store.clone(), Arc::new(Backend::Local(Arc::new(engine))), None);
        let mut req = TurnRequest::ask(None, "两年后收到1000元，折现率5%，现值是多少？");
        req.scenario = Some("calculation".into());
        req.form.insert("cash_flows".into(), "FV = 1000, r = 5%, n = 2".into());
        req.sampling.temperature = Some(0.0);
        let mut sink = Collect::default();
        let first = runner.run(req, &mut sink).await.expect("turn");
        let started = sink.started.clone().expect("started");
        assert!(started.created && sink.done);
        assert_eq!(sink.reasoning.trim(), "Discount the cash flow twice at five percent");
        assert_eq!(sink.answer.trim(), "The present value is about $907");

        let a = &first.answer;
        assert_eq!(a.status, MessageStatus::Complete);
        assert_eq!((a.reasoning.trim(), a.answer.trim()), (sink.reasoning.trim(), sink.answer.trim()));
        assert!(a.reasoning_tokens.unwrap_or(0) > 0 && a.answer_tokens.unwrap_or(0) > 0);
        let engine_ref = a.engine.clone().expect("provenance");
        assert_eq!(engine_ref.engine, EngineKind::Local);
        assert_eq!(engine_ref.model_sha256.as_deref(), Some(fin_r1_core::store::sha256_file(&model).expect("hash").as_str()));
        assert!(a.sampling.as_ref().is_some_and(|s| s.temperature == 0.0));
        assert!(a.seed.is_some());
        assert!(a.system_prompt.as_deref().is_some_and(|s| !s.is_empty()), "the calculation preset's system prompt");
        let c = store.conversation(first.conversation_id).await.expect("conversation");
        assert_eq!(c.scenario_id.as_deref(), Some("calculation"));
        assert_eq!(c.title, "两年后收到1000元，折现率5%，现值是多少？");
        // The form went into the first question as sent, and is kept with it.
        let q = store.message(first.question_id).await.expect("question");
        assert!(q.content.contains("FV = 1000, r = 5%, n = 2") && q.content.contains("现值是多少"), "{}", q.content);
        assert_eq!(q.form.as_ref().map(|f| f.question.as_str()), Some("两年后收到1000元，折现率5%，现值是多少？"));

        // A follow-up, then another answer to the first question, then an edited first question.
        let follow = runner.run(TurnRequest::ask(Some(c.id), "And at 6%?"), &mut Collect::default()).await.expect("follow-up");
        assert_eq!(store.message(follow.question_id).await.expect("q").parent_id, Some(first.answer.id));
        assert_eq!(store.message(follow.question_id).await.expect("q").content, "And at 6%?", "only the first question uses the form");
        let mut regen = TurnRequest::ask(Some(c.id), "");
        regen.kind = TurnKind::Regenerate { question_id: first.question_id };
        let second = runner.run(regen, &mut Collect::default()).await.expect("regenerate");
        assert_eq!(second.question_id, first.question_id);
        let path: Vec<i64> = store.active_path(c.id).await.expect("path").iter().map(|m| m.id).collect();
        assert_eq!(path, vec![first.question_id, second.answer.id], "the new answer's branch is on show");
        let mut edit = TurnRequest::ask(Some(c.id), "");
        edit.kind = TurnKind::Edit { question_id: first.question_id, question: "三年后呢？".into() };
        let edited = runner.run(edit, &mut Collect::default()).await.expect("edit");
        let edited_q = store.message(edited.question_id).await.expect("edited question");
        assert_eq!(edited_q.parent_id, None);
        assert!(edited_q.content.contains("FV = 1000"), "the edit keeps the stored form: {}", edited_q.content);
        // Nothing was lost: 3 questions, 4 answers.
        let all = store.messages(c.id).await.expect("all");
        assert_eq!(all.iter().filter(|m| m.role == MessageRole::User).count(), 3);
        assert_eq!(all.iter().filter(|m| m.role == MessageRole::Assistant).count(), 4);
        // The older branch can be shown again.
        store.set_active_leaf(c.id, follow.answer.id).await.expect("switch");
        let path: Vec<i64> = store.active_path(c.id).await.expect("path").iter().map(|m| m.id).collect();
        assert_eq!(path, vec![first.question_id, first.answer.id, follow.question_id, follow.answer.id]);
    });
}

#[test]
fn a_refused_form_leaves_no_empty_conversation() {
    let model = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let engine = Engine::load(&model, LoadOptions::default()).expect("load");
    rt().block_on(async {
        let (store, _) = Store::open(&data_dir("refused-form")).await.expect("open");
        let runner = Runner::new(store.clone(), Arc::new(Backend::Local(Arc::new(engine))), None);
        let mut req = TurnRequest::ask(None, "这笔销售合规吗？");
        req.scenario = Some("compliance".into());
        req.form.insert("regulation".into(), "a field the preset does not have".into());
        let err = runner.run(req, &mut Collect::default()).await.expect_err("unknown field");
        assert!(err.to_string().contains("regulation"), "{err}");
        // Regression: the conversation used to be created before the form was checked.
        assert!(store.list_conversations(10).await.expect("list").is_empty());
    });
}

#[test]
fn a_prompt_over_the_context_is_an_error_that_keeps_the_question() {
    let model = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let engine = Engine::load(&model, LoadOptions { context: Some(64), ..Default::default() }).expect("load");
    rt().block_on(async {
        let (store, _) = Store::open(&data_dir("overflow")).await.expect("open");
        let runner = Runner::new(store.clone(), Arc::new(Backend::Local(Arc::new(engine))), None);
        let long = "Explain the covenant terms of this loan agreement in detail. ".repeat(40);
        let r = runner.run(TurnRequest::ask(None, long.clone()), &mut Collect::default()).await.expect("turn ran");
        assert_eq!(r.answer.status, MessageStatus::Error);
        assert_eq!(r.answer.error_kind, Some(fin_r1_engine::ErrorKind::PromptTooLong));
        assert_eq!(store.message(r.question_id).await.expect("question").content, long);
    });
}

fn json_lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out).lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

#[test]
fn cli_chat_with_a_preset_stores_reasoning_and_answer_apart_and_search_finds_it() {
    let model = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let dir = data_dir("cli");
    let out = Command::new(fin_r1_bin())
        .args(["chat", "--json", "--temperature", "0", "--scenario", "calculation", "--data-dir"])
        .arg(&dir)
        .arg("--model")
        .arg(&model)
        .arg("请计算两年后收到的1000元按5%折现的现值")
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let events = json_lines(&out.stdout);
    assert_eq!(events[0]["type"], "started", "{events:?}");
    let conversation = events[0]["conversation_id"].as_i64().expect("id");

    let show = Command::new(fin_r1_bin()).args(["conversations", "show", "latest", "--json", "--data-dir"]).arg(&dir).output().expect("show");
    assert!(show.status.success(), "{}", String::from_utf8_lossy(&show.stderr));
    let v: Value = serde_json::from_slice(&show.stdout).expect("json");
    assert_eq!(v["conversation"]["id"].as_i64(), Some(conversation));
    assert_eq!(v["conversation"]["scenario_id"], "calculation");
    let answer = v["messages"].as_array().expect("messages").iter().find(|m| m["role"] == "assistant").expect("answer").clone();
    assert_eq!(answer["reasoning"].as_str().map(str::trim), Some("Discount the cash flow twice at five percent"));
    assert_eq!(answer["answer"].as_str().map(str::trim), Some("The present value is about $907"));
    assert_eq!(answer["status"], "complete");

    // Found by a Chinese word of the question, two characters and three.
    for word in ["现值", "折现的"] {
        let found = Command::new(fin_r1_bin()).args(["conversations", "search", word, "--json", "--data-dir"]).arg(&dir).output().expect("search");
        assert!(found.status.success());
        let hits: Value = serde_json::from_slice(&found.stdout).expect("json");
        assert!(hits.as_array().expect("hits").iter().any(|h| h["conversation_id"].as_i64() == Some(conversation)), "{word}: {hits}");
    }
    let text = Command::new(fin_r1_bin()).args(["conversations", "search", "现值", "--data-dir"]).arg(&dir).output().expect("search");
    assert!(String::from_utf8_lossy(&text.stdout).contains("现值"));

    // `--conversation latest` continues it; the list shows four messages.
    let more = Command::new(fin_r1_bin())
        .args(["chat", "--json", "--temperature", "0", "--conversation", "latest", "--data-dir"])
        .arg(&dir)
        .arg("--model")
        .arg(&model)
        .arg("And at 6%?")
        .output()
        .expect("run");
    assert!(more.status.success(), "{}", String::from_utf8_lossy(&more.stderr));
    assert_eq!(json_lines(&more.stdout)[0]["conversation_id"].as_i64(), Some(conversation));
    let list = Command::new(fin_r1_bin()).args(["conversations", "list", "--json", "--data-dir"]).arg(&dir).output().expect("list");
    let list: Value = serde_json::from_slice(&list.stdout).expect("json");
    assert_eq!(list[0]["messages"], 4);

    // A conversation that does not exist is a clear error, before any model is loaded.
    let missing = Command::new(fin_r1_bin()).args(["chat", "--conversation", "999", "--data-dir"]).arg(&dir).arg("q").output().expect("run");
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no conversation 999"), "{}", String::from_utf8_lossy(&missing.stderr));
}

/// Answer text as printed, with when each piece arrived.
struct Printed {
    pieces: Vec<(Instant, String)>,
}

impl Printed {
    fn text_before(&self, t: Instant) -> String {
        self.pieces.iter().filter(|(at, _)| *at <= t).map(|(_, s)| s.as_str()).collect()
    }
    fn text(&self) -> String {
        self.pieces.iter().map(|(_, s)| s.as_str()).collect()
    }
}

#[test]
fn a_chat_killed_mid_answer_keeps_its_text_as_interrupted() {
    let dir = data_dir("sigkill");
    let mut child = Command::new(fin_r1_bin())
        .args(["chat", "--json", "--temperature", "0", "--max-tokens", "4000", "--data-dir"])
        .arg(&dir)
        .arg("--model")
        .arg(fixture(SMOLLM2_FILE))
        .arg("Write a long, detailed essay on how central banks set interest rates, with many sections.")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<(Instant, Value)>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                if tx.send((Instant::now(), v)).is_err() {
                    break;
                }
            }
        }
    });
    let mut printed = Printed { pieces: Vec::new() };
    let mut first_text: Option<Instant> = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    // Let it write for 3 s, so at least two checkpoints have happened.
    loop {
        let (at, v) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).expect("the chat kept writing");
        match v["type"].as_str() {
            Some("answer") | Some("reasoning") => {
                printed.pieces.push((at, v["text"].as_str().unwrap_or_default().to_owned()));
                first_text.get_or_insert(at);
            }
            Some("done") | Some("error") => panic!("the answer ended before the kill: {v}; use a longer prompt"),
            _ => {}
        }
        if first_text.is_some_and(|t| at.duration_since(t) >= Duration::from_secs(3)) {
            break;
        }
    }
    child.kill().expect("SIGKILL");
    let killed_at = Instant::now();
    child.wait().expect("reap");
    while let Ok((at, v)) = rx.try_recv() {
        if at <= killed_at {
            if let Some(t) = v["text"].as_str() {
                printed.pieces.push((at, t.to_owned()));
            }
        }
    }

    // The row still says `streaming` until its writer has been silent for STALE_AFTER.
    std::thread::sleep(STALE_AFTER + Duration::from_millis(500));
    rt().block_on(async {
        let (store, report) = Store::open(&dir).await.expect("open");
        assert_eq!(report.interrupted, 1);
        let c = store.latest_conversation().await.expect("read").expect("the conversation was stored");
        let path = store.active_path(c.id).await.expect("path");
        let a = path.last().expect("answer");
        assert_eq!(a.status, MessageStatus::Interrupted);
        // The status says it; there is no stop reason for a process that died.
        assert_eq!(a.stop_reason, None);
        let all = printed.text();
        let stored = format!("{}{}", a.reasoning, a.answer);
        assert!(all.starts_with(&stored), "the stored text is what was printed");
        // At most about a second lost: everything printed 1.5 s before the kill is kept.
        let must_have = printed.text_before(killed_at - Duration::from_millis(1500));
        eprintln!("printed {} bytes, {} of them 1.5 s before the kill; stored {}", all.len(), must_have.len(), stored.len());
        assert!(
            stored.len() >= must_have.len() && !must_have.is_empty(),
            "stored {} bytes, printed {} bytes 1.5 s before the kill ({} in all)",
            stored.len(),
            must_have.len(),
            all.len()
        );
        // The interrupted answer is searchable and shown like any other.
        let words: Vec<&str> = a.answer.split_whitespace().filter(|w| w.len() >= 6 && w.chars().all(char::is_alphabetic)).collect();
        if let Some(w) = words.first() {
            assert!(!store.search(w, 5).await.expect("search").is_empty(), "{w}");
        }
    });
}

/// Issue 30: one 157 MB attachment grew the store and its log to ~1 GB. Its text can be
/// dropped (name, size and SHA-256 kept, still found by name) and the file compacted.
#[test]
fn old_documents_text_is_dropped_and_the_store_compacted() {
    use fin_r1_core::documents::{DocumentKind, DocumentMeta};
    use fin_r1_core::store::NewAttachment;
    let dir = data_dir("upkeep");
    rt().block_on(async {
        let (store, _) = Store::open(&dir).await.expect("open");
        let c = store.create_conversation("Annual report", None, None, None).await.expect("conversation");
        let q = store.add_question(c.id, None, "What was net income?", None, None).await.expect("question");
        let text: String = (0..40_000).map(|i| format!("row {i}: revenue 482,210; 净利润 43,870\n")).collect();
        let meta = DocumentMeta {
            file_name: "annual-report-2024.pdf".into(),
            kind: DocumentKind::Pdf,
            size: 157 << 20,
            pages: Some(300),
            sha256: "cd".repeat(32),
            notes: vec![],
        };
        store
            .add_attachments(
                q.id,
                &[NewAttachment {
                    meta,
                    text: text.clone(),
                    included: text[..20_000].to_owned(),
                    included_summary: "pages 1–3 of 300".into(),
                    path: None,
                    originals: Vec::new(),
                }],
            )
            .await
            .expect("attach");
        let before = store.store_size().await.expect("size");
        assert_eq!((before.documents, before.documents_with_text), (1, 1));
        assert!(before.documents_bytes > 1_500_000, "{before:?}");

        // Attached today: nothing is older than a day.
        assert_eq!(store.drop_document_text(1).await.expect("drop").documents, 0);
        let dropped = store.drop_document_text(0).await.expect("drop");
        assert_eq!(dropped.documents, 1);
        assert!(dropped.bytes >= before.documents_bytes - 20_000, "{dropped:?}");
        let after = store.store_size().await.expect("size");
        assert_eq!(after.documents_with_text, 0);
        assert!(after.documents_bytes <= 20_000, "only what the prompt carried stays: {after:?}");

        // The name, size and hash stay, and what the prompt carried (what the model saw).
        let (a, included) = store.attachments_of(q.id).await.expect("attachments").into_iter().next().expect("one");
        assert_eq!((a.meta.file_name.as_str(), a.meta.sha256.as_str(), a.meta.size), ("annual-report-2024.pdf", "cd".repeat(32).as_str(), 157 << 20));
        assert_eq!(included, text[..20_000]);
        assert!(a.meta.notes.iter().any(|n| n.contains("dropped")), "{:?}", a.meta.notes);
        // Still found by its name and by what the prompt carried, no longer by the rest.
        assert!(!store.search("annual-report-2024", 10).await.expect("search").is_empty());
        assert!(!store.search("row 12:", 10).await.expect("search").is_empty());
        assert!(store.search("row 39999", 10).await.expect("search").is_empty());

        let freed = store.compact().await.expect("compact");
        let compacted = store.store_size().await.expect("size");
        assert!(freed > 1_000_000, "{freed} bytes given back: {before:?} → {compacted:?}");
        assert_eq!(compacted.wal_bytes, 0);
        store.close().await;
    });
}

/// Issue 30 item 6: the Models page's speeds come from this machine's own answers once it has
/// some: the median of the recent local ones on files of 1 GB or more, as bytes read a second.
#[test]
fn the_decoding_speed_measured_here_is_the_median_of_recent_answers_on_big_files() {
    rt().block_on(async {
        let (store, _) = Store::open(&data_dir("measured-decode")).await.expect("open");
        assert_eq!(store.measured_decode().await.expect("none yet"), None);
        let model = |path: &str, size: i64, sha: &str| fin_r1_core::store::LibraryModel {
            path: path.into(),
            file_name: path.into(),
            size,
            sha256: Some(sha.into()),
            name: None,
            architecture: "qwen2".into(),
            quantization: "Q4_K_M".into(),
            n_params: 7_600_000_000,
            context: 32768,
            source: "import".into(),
            repo: None,
            added_at: 0,
        };
        store.add_model(&model("/m/big.gguf", 4_000_000_000, "big")).await.expect("big");
        store.add_model(&model("/m/small.gguf", 100_000_000, "small")).await.expect("small");
        let c = store.create_conversation("speeds", None, None, None).await.expect("conversation");
        let mut parent = None;
        for (sha, tok_s, tokens) in [("big", 2.0, 200), ("big", 3.0, 200), ("big", 4.0, 200), ("small", 150.0, 200), ("big", 50.0, 5)] {
            let q = store.add_question(c.id, parent, "q", None, None).await.expect("question");
            let p = Provenance {
                engine: EngineRef { engine: EngineKind::Local, model_file: None, model_sha256: Some(sha.into()), quantization: None, remote_url: None },
                ..Default::default()
            };
            let a = store.begin_answer(c.id, q.id, &p).await.expect("answer");
            let usage = fin_r1_engine::Usage { answer_tokens: tokens, decode_tok_s: tok_s, ..Default::default() };
            let o = Outcome { answer: "a".into(), stop_reason: Some(fin_r1_engine::StopReason::End), usage: Some(usage), ..Default::default() };
            store.finish_answer(a.id, &o).await.expect("finish");
            parent = Some(a.id);
        }
        // The small file and the five-token answer say nothing of the memory's pace.
        let (bytes_per_s, answers) = store.measured_decode().await.expect("measured").expect("some");
        assert_eq!(answers, 3);
        let want = fin_r1_core::catalog::Speed::bytes_per_s_of(3.0, 4_000_000_000).expect("rate");
        assert!((bytes_per_s - want).abs() < 1.0 && want > 12e9, "{bytes_per_s}");
        store.close().await;
    });
}
