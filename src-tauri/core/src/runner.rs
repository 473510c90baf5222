//! The conversation runner: a stored conversation plus a new question (or a regenerate, or an
//! edit) becomes an engine request; the generation's events go to the caller's sink as they come
//! and into the store, checkpointed about once a second. The CLI, the app and anything else that
//! chats go through here, so they all see the same conversations.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use fin_r1_engine::{
    resolve_sampling, CancelToken, ChatMessage, ContextPolicy, Done, ErrorKind, GenerationEvent, GenerationRequest, SamplingError, StopReason, ToolCall,
    ToolStatus,
};
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::documents::chunks::estimate_tokens;
use crate::mcp::{McpHub, McpTool};
use crate::scenario::{Lang, Library, Scenario};
use crate::store::{
    Conversation, EngineRef, Message, MessageRole, MessageStatus, NewAttachment, Outcome, Provenance, QuestionForm, Store, StoreError, CHECKPOINT_EVERY,
};
use crate::tools::{self, Approval, ApprovalRequest, ToolBox, APPROVAL_TIMEOUT, MAX_ROUNDS};

pub use fin_r1_engine::SamplingOverrides;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TurnKind {
    /// A new question after the branch on show (or opening a new conversation).
    Ask { question: String },
    /// Another answer to a stored question; the earlier answers stay as branches.
    Regenerate { question_id: i64 },
    /// A changed question beside the stored one, answered afresh; the old branch stays.
    Edit { question_id: i64, question: String },
}

#[derive(Debug, Clone)]
pub struct TurnRequest {
    /// `None` opens a new conversation (an `Ask` only).
    pub conversation: Option<i64>,
    pub kind: TurnKind,
    /// A new conversation's preset.
    pub scenario: Option<String>,
    /// A new conversation's system prompt, over the preset's and the model's.
    pub system: Option<String>,
    /// The preset's form, filled into its template for the conversation's first question.
    pub form: BTreeMap<String, String>,
    pub lang: Lang,
    /// Sampling for this turn only (a CLI flag), over everything else.
    pub sampling: SamplingOverrides,
    /// Sampling to keep with the conversation (the app's sampling panel): stored before the
    /// turn runs, then used by every later turn of it, from the app or the CLI.
    pub conversation_sampling: Option<SamplingOverrides>,
    /// The user's own defaults (Settings): over the model's and a preset's.
    pub defaults: SamplingOverrides,
    pub context_policy: ContextPolicy,
    /// Documents attached to an `Ask` or added to an `Edit`, already read (`documents::extract`).
    pub attachments: Vec<crate::documents::Document>,
    /// An `Edit`: which of the question's documents it keeps (their ids); `None` keeps them all.
    pub keep_attachments: Option<Vec<i64>>,
    /// Tools offered in this turn beside the preset's (`calculator`, `mcp:NAME`).
    pub tools: Vec<String>,
    /// Ask the library: the parts that best match the question go into the prompt, numbered
    /// for the model to cite, and are kept as the answer's sources.
    pub library: Option<LibraryScope>,
}

/// Which of the library a question is asked of.
pub use crate::store::LibraryScope;

impl TurnRequest {
    pub fn ask(conversation: Option<i64>, question: impl Into<String>) -> Self {
        Self {
            conversation,
            kind: TurnKind::Ask { question: question.into() },
            scenario: None,
            system: None,
            form: BTreeMap::new(),
            lang: Lang::Zh,
            sampling: SamplingOverrides::default(),
            conversation_sampling: None,
            defaults: SamplingOverrides::default(),
            context_policy: ContextPolicy::Error,
            attachments: Vec::new(),
            keep_attachments: None,
            tools: Vec::new(),
            library: None,
        }
    }
}

/// What the sink learns before the first token: where the turn is stored, and how to stop it.
#[derive(Debug, Clone)]
pub struct TurnStarted {
    pub conversation: Conversation,
    /// True when this turn opened the conversation.
    pub created: bool,
    pub question: Message,
    /// The answer's row, `streaming` until the turn ends.
    pub answer: Message,
    pub cancel: CancelToken,
    /// The question's documents, each saying what of it the prompt carries.
    pub attachments: Vec<crate::store::Attachment>,
    /// What the turn could not offer (an MCP server that did not start), for the analyst.
    pub notices: Vec<String>,
    /// The library's parts the prompt carries, numbered as the answer cites them.
    pub sources: Vec<crate::store::AnswerSource>,
}

/// A consumer of one turn: the terminal, the app's channel, a test.
pub trait TurnSink: Send {
    fn started(&mut self, turn: &TurnStarted);
    fn event(&mut self, event: &GenerationEvent);
    /// Asks the analyst whether an MCP tool call may run; the answer comes on the receiver.
    /// `None`: this consumer cannot ask (the call is not run).
    fn approve(&mut self, request: &ApprovalRequest) -> Option<tokio::sync::oneshot::Receiver<Approval>> {
        let _ = request;
        None
    }
}

#[derive(Debug)]
pub struct TurnResult {
    pub conversation_id: i64,
    pub question_id: i64,
    /// The answer as stored (or, when saving failed, as it would have been).
    pub answer: Message,
    /// Saving failed (a full disk): the text reached the sink but is not in the store.
    pub save_error: Option<StoreError>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Scenario(String),
    #[error("message {0} is not a question")]
    NotAQuestion(i64),
    #[error("the question is empty")]
    EmptyQuestion,
    #[error("regenerate and edit need the conversation the message is in")]
    NeedsConversation,
    #[error("the library has no collection {0} (was it deleted?): choose another scope")]
    NoCollection(i64),
    #[error(transparent)]
    Sampling(#[from] SamplingError),
}

impl RunError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Store(e) => e.kind(),
            Self::Scenario(_) => ErrorKind::Scenario,
            Self::NotAQuestion(_) | Self::EmptyQuestion | Self::NeedsConversation | Self::Sampling(_) => ErrorKind::InvalidRequest,
            Self::NoCollection(_) => ErrorKind::NotFound,
        }
    }
}

#[derive(Clone)]
pub struct Runner {
    store: Store,
    backend: Arc<Backend>,
    scenario_dir: Option<PathBuf>,
    mcp: Option<Arc<McpHub>>,
}

impl Runner {
    /// `scenario_dir`: the user's presets (read afresh each turn, so an import shows at once).
    pub fn new(store: Store, backend: Arc<Backend>, scenario_dir: Option<PathBuf>) -> Self {
        Self { store, backend, scenario_dir, mcp: None }
    }

    /// The MCP servers a turn's `mcp:NAME` tools come from.
    pub fn with_mcp(mut self, hub: Arc<McpHub>) -> Self {
        self.mcp = Some(hub);
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn backend(&self) -> &Arc<Backend> {
        &self.backend
    }

    fn scenario(&self, id: &str) -> Result<Scenario, RunError> {
        Library::load(self.scenario_dir.as_deref()).get(id).cloned().map_err(|e| RunError::Scenario(e.to_string()))
    }

    /// Runs one turn to its end. Stop it with `TurnStarted::cancel`; dropping the future also
    /// stops the generation, but leaves the answer `streaming` until the next open marks it
    /// `interrupted`.
    pub async fn run(&self, req: TurnRequest, sink: &mut dyn TurnSink) -> Result<TurnResult, RunError> {
        // Refused before anything is stored.
        req.sampling.validate()?;
        req.defaults.validate()?;
        if let Some(o) = &req.conversation_sampling {
            o.validate()?;
        }
        // A collection deleted meanwhile (from the CLI, another window) is said, not searched
        // as an empty one.
        if let Some(LibraryScope { collection: Some(c), .. }) = req.library {
            if !self.store.library_collections().await?.iter().any(|x| x.id == c) {
                return Err(RunError::NoCollection(c));
            }
        }
        let (mut conversation, created) = self.conversation_for(&req).await?;
        if let Some(o) = &req.conversation_sampling {
            self.store.set_conversation_sampling(conversation.id, o).await?;
            conversation.sampling = o.clone();
        }
        // A preset deleted since the conversation began leaves its snapshot of the system
        // prompt in charge and the model's sampling.
        let scenario = match &conversation.scenario_id {
            Some(id) if created => Some(self.scenario(id)?),
            Some(id) => self.scenario(id).ok(),
            None => None,
        };

        let (question, history) = match &req.kind {
            TurnKind::Ask { question } => {
                let parent = conversation.active_leaf_id;
                let history = self.branch_to(parent).await?;
                let q = self.store_question(&conversation, parent, question, history.is_empty(), scenario.as_ref(), &req).await?;
                (q, history)
            }
            TurnKind::Regenerate { question_id } => {
                let q = self.question(*question_id, &conversation).await?;
                let history = self.branch_to(q.parent_id).await?;
                (q, history)
            }
            TurnKind::Edit { question_id, question } => {
                let old = self.question(*question_id, &conversation).await?;
                let history = self.branch_to(old.parent_id).await?;
                let mut edit = req.clone();
                if edit.form.is_empty() {
                    edit.form = stored_fields(&old);
                }
                let q = self.store_question(&conversation, old.parent_id, question, history.is_empty(), scenario.as_ref(), &edit).await?;
                (q, history)
            }
        };

        let preset = scenario.as_ref().map(|s| s.sampling.to_params());
        let sampling = resolve_sampling(self.backend.default_sampling(), preset.as_ref(), &req.defaults, &conversation.sampling, &req.sampling)?;
        let system = conversation.system_prompt.clone().or_else(|| self.backend.default_system_prompt()).unwrap_or_default();
        let attachments = match &req.kind {
            TurnKind::Ask { question: typed } | TurnKind::Edit { question: typed, .. }
                if !req.attachments.is_empty() || matches!(req.kind, TurnKind::Edit { .. }) =>
            {
                if let TurnKind::Edit { question_id, .. } = &req.kind {
                    self.store.copy_attachments(*question_id, question.id, req.keep_attachments.as_deref()).await?;
                }
                // What the documents may take: the context less the answer's room and the rest
                // of the prompt as it will be sent (the earlier questions' documents included),
                // shared between the files.
                let mut earlier: BTreeMap<i64, Vec<String>> = BTreeMap::new();
                for (a, included) in self.store.conversation_attachments(conversation.id).await? {
                    earlier.entry(a.message_id).or_default().push(included);
                }
                // An edit's kept documents go with this question: they take their room first.
                let kept = earlier.get(&question.id).map(|k| k.concat()).unwrap_or_default();
                let budget = document_budget(
                    self.backend.context(),
                    sampling.max_tokens,
                    &system,
                    &prompt_history(&history, &earlier),
                    &format!("{}{kept}", question.content),
                ) / req.attachments.len().max(1);
                let files: Vec<NewAttachment> = req
                    .attachments
                    .iter()
                    .map(|d| {
                        let chosen = crate::documents::chunks::select(d, typed, budget);
                        NewAttachment {
                            meta: d.meta.clone(),
                            text: d.to_markdown(),
                            included: chosen.to_markdown(),
                            included_summary: chosen.summary,
                            path: d.path.clone(),
                            originals: d.originals.clone(),
                        }
                    })
                    .collect();
                if !files.is_empty() {
                    self.store.add_attachments(question.id, &files).await?;
                }
                self.store.attachments_of(question.id).await?.into_iter().map(|(a, _)| a).collect()
            }
            _ => self.store.attachments_of(question.id).await?.into_iter().map(|(a, _)| a).collect(),
        };
        // Each question with the documents attached to it, as its prompt carried them.
        let mut carried: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for (a, included) in self.store.conversation_attachments(conversation.id).await? {
            carried.entry(a.message_id).or_default().push(included);
        }
        let mut messages = prompt_history(&history, &carried);
        let mut asked = with_documents(&question.content, carried.get(&question.id));
        let provenance = Provenance {
            engine: EngineRef {
                engine: self.backend.kind(),
                model_file: Some(self.backend.model_name()),
                model_sha256: None,
                quantization: self.backend.quantization(),
                remote_url: self.backend.remote_url(),
            },
            system_prompt: Some(system.clone()),
            sampling: Some(sampling.clone()),
            scenario_id: conversation.scenario_id.clone(),
        };
        let answer = self.store.begin_answer(conversation.id, question.id, &provenance).await?;
        if let Some(id) = &conversation.scenario_id {
            // Recency only orders the new-chat cards: not worth failing a turn over.
            let _ = self.store.scenario_used(id).await;
        }
        // A multi-gigabyte model takes seconds to hash: do it beside the generation.
        let hashing = self.backend.model_path().map(|path| {
            let store = self.store.clone();
            tokio::spawn(async move { store.model_sha256(&path).await.ok() })
        });

        let (mut toolbox, _) = ToolBox::from_names(scenario.iter().flat_map(|s| s.tools.iter()).chain(req.tools.iter()).map(String::as_str));
        let mut notices = Vec::new();
        if !toolbox.servers.is_empty() {
            match &self.mcp {
                Some(hub) => {
                    // Starting a server can take a while (npx fetching it): the answer's row
                    // keeps its heartbeat, so no one takes it for a dead writer's.
                    let (found, problems) = self.beating(answer.id, "", "", hub.tools(&toolbox.servers)).await;
                    toolbox.mcp = found;
                    notices.extend(problems.into_iter().map(|p| format!("MCP tools not offered: {p}")));
                }
                None => notices.push(format!("MCP tools not offered: no MCP servers here ({})", toolbox.servers.join(", "))),
            }
        }
        let specs = toolbox.specs();
        let mut hits = Vec::new();
        if let Some(scope) = req.library {
            // The tools' descriptions go into the prompt too: the excerpts get what they leave.
            let tools_text = serde_json::to_string(&specs).unwrap_or_default();
            let budget = document_budget(self.backend.context(), sampling.max_tokens, &system, &messages, &asked).saturating_sub(estimate_tokens(&tools_text));
            hits = crate::filings::retrieve(&self.store, scope, &question.content, budget).await?;
            asked = crate::filings::with_excerpts(&asked, &hits);
        }
        messages.push(ChatMessage::user(asked));
        let sources = crate::filings::sources(answer.id, &hits);
        if !sources.is_empty() {
            self.store.add_answer_sources(answer.id, &sources).await?;
        }
        let mut request = GenerationRequest {
            tools: specs,
            messages,
            system: Some(system),
            sampling: Some(sampling),
            context_policy: req.context_policy,
            shared_prefix: scenario.as_ref().map(Scenario::shared_head),
        };
        let mut generation = self.backend.generate(request.clone());
        // One stop for the whole turn, however many rounds of tool calls it takes (a round's own
        // token is cancelled when its generation is dropped, so it cannot be the turn's).
        let turn_cancel = CancelToken::default();
        link_cancel(&turn_cancel, generation.cancel_token());
        let conversation_id = conversation.id;
        let question_id = question.id;
        sink.started(&TurnStarted { conversation, created, question, answer: answer.clone(), cancel: turn_cancel.clone(), attachments, notices, sources });

        let mut out = Outcome::default();
        let mut save_error: Option<StoreError> = None;
        let mut done: Option<GenerationEvent> = None;
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        let mut round = 0usize;
        // The round whose reasoning was last written: each later round's starts a paragraph.
        let mut reasoning_round = 0usize;
        let mut call_count = 0usize;
        // Tools the analyst allowed "always" during this turn.
        let mut allowed: Vec<String> = Vec::new();
        'rounds: loop {
            let mut calls: Vec<ToolCall> = Vec::new();
            // This round's answer text: what the model said before its calls.
            let mut said = String::new();
            let mut ended: Option<Done> = None;
            loop {
                tokio::select! {
                    ev = generation.next() => {
                        let Some(mut ev) = ev else { break };
                        // The engine numbers a round's calls from 1: ids unique in the turn.
                        match &mut ev {
                            GenerationEvent::ToolCall(c) => {
                                call_count += 1;
                                if c.id.starts_with("call_") {
                                    c.id = format!("call_{call_count}");
                                }
                            }
                            // The turn's figures so far, as the store keeps them, not the round's.
                            GenerationEvent::Usage(u) => *u = merge_usage(out.usage.take(), u, round),
                            _ => {}
                        }
                        match &ev {
                            GenerationEvent::Reasoning { text } => {
                                if round > 0 && reasoning_round < round {
                                    reasoning_round = round;
                                    if !out.reasoning.is_empty() {
                                        out.reasoning.push_str("\n\n");
                                    }
                                }
                                out.reasoning.push_str(text)
                            }
                            GenerationEvent::Answer { text } => {
                                out.answer.push_str(text);
                                said.push_str(text);
                            }
                            // Not a call: shown and kept as the text it is.
                            GenerationEvent::ToolCallMalformed { text, .. } => {
                                out.answer.push_str(text);
                                said.push_str(text);
                            }
                            GenerationEvent::ToolCall(c) => calls.push(c.clone()),
                            GenerationEvent::ToolResult(_) | GenerationEvent::Prefill { .. } => {}
                            GenerationEvent::Usage(u) => out.usage = Some(u.clone()),
                            GenerationEvent::Done(d) => {
                                out.stop_reason = Some(d.reason);
                                out.seed.get_or_insert(d.seed);
                                ended = Some(d.clone());
                                // Told once the answer is stored whole: a process killed after
                                // the analyst saw "done" still has the answer complete.
                                done = Some(ev);
                                continue;
                            }
                            GenerationEvent::Error { kind, message } => out.error = Some((*kind, message.clone())),
                        }
                        sink.event(&ev);
                    }
                    // Also a heartbeat: a row that stops being checkpointed belongs to a dead process.
                    _ = tick.tick() => {
                        if let Err(e) = self.store.checkpoint(answer.id, &out.reasoning, &out.answer).await {
                            let full = matches!(e, StoreError::DiskFull);
                            save_error.get_or_insert(e);
                            if full {
                                // Generating on would write what can no longer be kept: the answer
                                // stops, its last checkpoint stays in the store.
                                let message = "the disk is full: the answer stops here; what was saved before stays (free some space, then Regenerate)".to_owned();
                                out.error = Some((ErrorKind::DiskFull, message.clone()));
                                sink.event(&GenerationEvent::Error { kind: ErrorKind::DiskFull, message });
                                break 'rounds;
                            }
                        }
                    }
                }
            }
            // The model called tools and stopped to read their results: run them, then ask on.
            let finished_for_tools = matches!(&ended, Some(d) if d.reason == StopReason::End)
                && out.error.is_none()
                && !calls.is_empty()
                && !request.tools.is_empty()
                && !turn_cancel.is_cancelled();
            if !finished_for_tools {
                // A call shown that will not run (the answer was stopped, cut off or failed):
                // its card and its row say so.
                for call in &calls {
                    let result = tools::not_run(call, ToolStatus::Denied, "not run: the answer ended before its tools ran");
                    if let Err(e) = self.store.add_tool_call(answer.id, call, &result).await {
                        save_error.get_or_insert(e);
                    }
                    sink.event(&GenerationEvent::ToolResult(result));
                }
                break;
            }
            round += 1;
            let mut results = Vec::with_capacity(calls.len());
            for call in &calls {
                let result = match toolbox.mcp_tool(&call.name) {
                    Some(tool) => {
                        let waiting = self.run_mcp(tool, call, answer.id, sink, &turn_cancel, &mut allowed);
                        self.beating(answer.id, &out.reasoning, &out.answer, waiting).await
                    }
                    None => toolbox.run(call),
                };
                if let Err(e) = self.store.add_tool_call(answer.id, call, &result).await {
                    save_error.get_or_insert(e);
                }
                sink.event(&GenerationEvent::ToolResult(result.clone()));
                results.push(result);
            }
            if round >= MAX_ROUNDS {
                // The last round offers no tools: the model answers with what it has.
                request.tools.clear();
            }
            let mut turn = ChatMessage::assistant(said.trim().to_owned(), None);
            turn.tool_calls = calls;
            request.messages.push(turn);
            for r in results {
                request.messages.push(ChatMessage::tool(r.id, r.content));
            }
            // The first round's shared prefix is already cached.
            request.shared_prefix = None;
            done = None;
            out.stop_reason = None;
            generation = self.backend.generate(request.clone());
            link_cancel(&turn_cancel, generation.cancel_token());
        }
        // Dropped here, a generation stopped early (a full disk) is cancelled in the engine.
        drop(generation);
        if out.stop_reason.is_none() && out.error.is_none() {
            out.error = Some((ErrorKind::Unfinished, "the generation ended without finishing".into()));
        }
        let mut stored = match self.store.finish_answer(answer.id, &out).await {
            Ok(m) => m,
            Err(e) => {
                save_error.get_or_insert(e);
                unsaved(answer.clone(), &out)
            }
        };
        if let Some(done) = &done {
            sink.event(done);
        }
        if let Some(h) = hashing {
            // A first use of a large model: the answer is stored and done; its provenance
            // gets the model's hash when that finishes (finish_answer keeps the rest as is).
            out.model_sha256 = h.await.ok().flatten();
            if out.model_sha256.is_some() && save_error.is_none() {
                match self.store.finish_answer(answer.id, &out).await {
                    Ok(m) => stored = m,
                    Err(e) => {
                        save_error.get_or_insert(e);
                    }
                }
            }
        }
        Ok(TurnResult { conversation_id, question_id, answer: stored, save_error })
    }

    async fn conversation_for(&self, req: &TurnRequest) -> Result<(Conversation, bool), RunError> {
        if let Some(id) = req.conversation {
            let c = self.store.conversation(id).await?;
            if c.deleted_at.is_some() {
                return Err(StoreError::NoConversation(id.to_string()).into());
            }
            return Ok((c, false));
        }
        let TurnKind::Ask { question } = &req.kind else { return Err(RunError::NeedsConversation) };
        if question.trim().is_empty() {
            return Err(RunError::EmptyQuestion);
        }
        let scenario = req.scenario.as_deref().map(|id| self.scenario(id)).transpose()?;
        // A form the preset refuses must not leave an empty conversation behind.
        if let Some(s) = &scenario {
            s.fill(question, &req.form, req.lang).map_err(|e| RunError::Scenario(format!("scenario {}: {e}", s.id)))?;
        }
        let system = req.system.clone().or_else(|| scenario.as_ref().map(|s| s.system_prompt.trim().to_owned()));
        let model = self.backend.model_name();
        let c = self.store.create_conversation(&crate::title::of_question(question), req.scenario.as_deref(), system.as_deref(), Some(&model)).await?;
        Ok((c, true))
    }

    /// The messages from the root down to `leaf` (none for a conversation's first question).
    async fn branch_to(&self, leaf: Option<i64>) -> Result<Vec<Message>, RunError> {
        Ok(match leaf {
            Some(id) => self.store.path_to(id).await?,
            None => Vec::new(),
        })
    }

    async fn question(&self, id: i64, conversation: &Conversation) -> Result<Message, RunError> {
        let q = self.store.message(id).await?;
        if q.role != MessageRole::User || q.conversation_id != conversation.id {
            return Err(RunError::NotAQuestion(id));
        }
        Ok(q)
    }

    /// Stores a question; the conversation's first goes through its preset's form.
    /// `work`, with the answer's row checkpointed every second meanwhile (a wait for the
    /// analyst or a tool is no sign of a dead writer).
    async fn beating<T>(&self, answer_id: i64, reasoning: &str, answer: &str, work: impl std::future::Future<Output = T>) -> T {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(work);
        loop {
            tokio::select! {
                r = &mut work => return r,
                _ = tick.tick() => {
                    let _ = self.store.checkpoint(answer_id, reasoning, answer).await;
                }
            }
        }
    }

    /// An MCP call: asked of the analyst (unless allowed always), then run with its timeout.
    async fn run_mcp(
        &self,
        tool: &McpTool,
        call: &ToolCall,
        answer_id: i64,
        sink: &mut dyn TurnSink,
        cancel: &CancelToken,
        allowed: &mut Vec<String>,
    ) -> fin_r1_engine::ToolResult {
        let Some(hub) = &self.mcp else {
            return tools::not_run(call, ToolStatus::Error, "not run: no MCP servers here");
        };
        if !(tool.always_allowed || allowed.contains(&tool.spec.name)) {
            let request = ApprovalRequest {
                id: format!("{answer_id}:{}", call.id),
                answer_id,
                call: call.clone(),
                server: tool.server.clone(),
                tool: tool.tool.clone(),
                description: tool.spec.description.clone(),
                timeout_secs: APPROVAL_TIMEOUT.as_secs(),
            };
            let Some(answer) = sink.approve(&request) else {
                return tools::not_run(call, ToolStatus::Denied, "not run: this client cannot ask the analyst to allow it");
            };
            let decision = tokio::select! {
                r = tokio::time::timeout(APPROVAL_TIMEOUT, answer) => match r {
                    Ok(Ok(d)) => d,
                    Ok(Err(_)) => return tools::not_run(call, ToolStatus::Denied, "not run: the request to allow it was closed unanswered"),
                    Err(_) => return tools::not_run(call, ToolStatus::Timeout, &format!("not run: no one allowed it within {} s", APPROVAL_TIMEOUT.as_secs())),
                },
                _ = cancelled(cancel) => return tools::not_run(call, ToolStatus::Denied, "not run: the answer was stopped"),
            };
            match decision {
                Approval::Deny => return tools::not_run(call, ToolStatus::Denied, "not run: the analyst did not allow it"),
                Approval::Once => {}
                Approval::Always => {
                    allowed.push(tool.spec.name.clone());
                    if let Err(e) = hub.allow_always(&tool.server, &tool.tool).await {
                        tracing::warn!("could not keep \"always\" for {}: {e}", tool.spec.name);
                    }
                }
            }
        }
        tokio::select! {
            r = hub.call(tool, call) => r,
            _ = cancelled(cancel) => tools::not_run(call, ToolStatus::Denied, "stopped: the answer was stopped while the tool ran"),
        }
    }

    async fn store_question(
        &self,
        conversation: &Conversation,
        parent: Option<i64>,
        typed: &str,
        first: bool,
        scenario: Option<&Scenario>,
        req: &TurnRequest,
    ) -> Result<Message, RunError> {
        if typed.trim().is_empty() {
            return Err(RunError::EmptyQuestion);
        }
        let (content, form) = match scenario {
            Some(s) if first => {
                let filled = s.fill(typed, &req.form, req.lang).map_err(|e| RunError::Scenario(format!("scenario {}: {e}", s.id)))?;
                (filled, Some(QuestionForm { question: typed.to_owned(), fields: req.form.clone() }))
            }
            _ => (typed.to_owned(), None),
        };
        Ok(self.store.add_question(conversation.id, parent, &content, conversation.scenario_id.as_deref(), form.as_ref()).await?)
    }
}

/// Resolves once the turn is stopped (the token is a flag: looked at ten times a second).
async fn cancelled(token: &CancelToken) {
    while !token.is_cancelled() {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The earlier turns as the model sees them: answers only (reasoning is never sent back, as
/// Fin-R1 and R1-style models expect), and questions that got no answer left out.
/// The turn's stop reaches a round's generation (checked every 50 ms; the watch ends with the
/// round, whose token its drop cancels).
fn link_cancel(turn: &CancelToken, round: CancelToken) {
    if turn.is_cancelled() {
        round.cancel();
        return;
    }
    let turn = turn.clone();
    tokio::spawn(async move {
        while !round.is_cancelled() {
            if turn.is_cancelled() {
                round.cancel();
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    });
}

/// The usage of a turn of several rounds: the last prompt, every round's generated tokens and
/// time, the first round's time to first token.
fn merge_usage(before: Option<fin_r1_engine::Usage>, u: &fin_r1_engine::Usage, round: usize) -> fin_r1_engine::Usage {
    match before {
        Some(b) if round > 0 => fin_r1_engine::Usage {
            prompt_tokens: u.prompt_tokens,
            cached_prompt_tokens: u.cached_prompt_tokens,
            reasoning_tokens: b.reasoning_tokens + u.reasoning_tokens,
            answer_tokens: b.answer_tokens + u.answer_tokens,
            time_to_first_token_ms: b.time_to_first_token_ms,
            prefill_tok_s: u.prefill_tok_s,
            decode_tok_s: u.decode_tok_s,
            total_ms: b.total_ms + u.total_ms,
        },
        _ => u.clone(),
    }
}

fn prompt_history(path: &[Message], documents: &BTreeMap<i64, Vec<String>>) -> Vec<ChatMessage> {
    let mut out = Vec::new();
    let mut pending: Option<&Message> = None;
    for m in path {
        match m.role {
            MessageRole::User => pending = Some(m),
            MessageRole::Assistant => {
                let usable = !matches!(m.status, MessageStatus::Error | MessageStatus::Streaming) && !m.answer.trim().is_empty();
                if let (true, Some(q)) = (usable, pending.take()) {
                    out.push(ChatMessage::user(with_documents(&q.content, documents.get(&q.id))));
                    out.push(ChatMessage::assistant(m.answer.clone(), None));
                }
            }
            MessageRole::System => {}
        }
    }
    out
}

/// Tokens the documents of a new question may take: the context less the answer's room (at
/// most half the context), the system prompt, the history as it will be sent and the question;
/// a tenth kept back, the count being an estimate where the engine's is exact.
fn document_budget(context: usize, max_tokens: usize, system: &str, history: &[ChatMessage], question: &str) -> usize {
    // The chat template's markers around each message.
    const PER_MESSAGE: usize = 8;
    let used = estimate_tokens(system) + history.iter().map(|m| estimate_tokens(&m.content) + PER_MESSAGE).sum::<usize>() + estimate_tokens(question) + 64;
    let room = max_tokens.min(context / 2);
    context.saturating_sub(room + used) * 9 / 10
}

/// A question followed by its documents: after the question, so a preset's fixed opening
/// stays the prompt's shared prefix.
fn with_documents(question: &str, documents: Option<&Vec<String>>) -> String {
    match documents {
        Some(d) if !d.is_empty() => format!("{question}\n\n---\nAttached documents:\n\n{}", d.join("\n")),
        _ => question.to_owned(),
    }
}

fn stored_fields(question: &Message) -> BTreeMap<String, String> {
    question.form.as_ref().map(|f| f.fields.clone()).unwrap_or_default()
}

/// The answer as it would have been stored, for a caller whose store failed mid-turn.
fn unsaved(mut m: Message, o: &Outcome) -> Message {
    m.reasoning = o.reasoning.clone();
    m.answer = o.answer.clone();
    m.status = MessageStatus::from(o);
    m.stop_reason = o.stop_reason;
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_sampling_layer_wins_over_the_one_below() {
        use fin_r1_engine::SamplingParams;
        let model = SamplingParams { temperature: 0.6, max_tokens: 4000, top_p: 0.95, ..SamplingParams::default() };
        let preset = SamplingParams { temperature: 0.2, max_tokens: 3000, top_p: 0.9, ..SamplingParams::default() };
        let user = SamplingOverrides { max_tokens: Some(2000), top_k: Some(20), ..Default::default() };
        let conv = SamplingOverrides { top_k: Some(10), seed: Some(7), ..Default::default() };
        let turn = SamplingOverrides { seed: Some(9), stop: Some(vec!["END".into()]), ..Default::default() };
        let p = resolve_sampling(model.clone(), Some(&preset), &user, &conv, &turn).expect("valid");
        // The preset replaces the model's; the user's defaults apply over a preset too (a preset
        // once ignored them); then the conversation's, then the turn's.
        assert_eq!((p.temperature, p.top_p, p.max_tokens, p.top_k, p.seed), (0.2, 0.9, 2000, 10, Some(9)));
        assert_eq!(p.stop, vec!["END".to_owned()]);
        let p =
            resolve_sampling(model.clone(), None, &SamplingOverrides::default(), &SamplingOverrides::default(), &SamplingOverrides::default()).expect("valid");
        assert_eq!(p, model);
        // One set of ranges for every layer.
        let hot = SamplingOverrides { temperature: Some(5.0), ..Default::default() };
        assert!(hot.validate().is_err());
        assert!(resolve_sampling(model, None, &SamplingOverrides::default(), &hot, &SamplingOverrides::default()).is_err());
    }
}
