//! A turn's events on their way to the webview: text coalesced and sent about every 30 ms in
//! messages under 8 KB, so a fast model does not flood the IPC bridge with one call per token.

use std::time::{Duration, Instant};

use fin_r1_engine::GenerationEvent;
use serde::Serialize;
use tauri::ipc::Channel;

use fin_r1_core::runner::{TurnSink, TurnStarted};
use fin_r1_core::store::MessageStatus;
use fin_r1_core::tools::{Approval, ApprovalRequest};

use crate::state::{Approvals, Running};

pub const FLUSH_EVERY: Duration = Duration::from_millis(30);
pub const MAX_BATCH_BYTES: usize = 8 * 1024;

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, specta::Type)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamMessage {
    /// Where the turn is stored, before any text.
    Started {
        conversation_id: i64,
        question_id: i64,
        answer_id: i64,
        created: bool,
        title: String,
        /// What the turn could not offer (an MCP server that did not start).
        notices: Vec<String>,
        /// The library's parts the prompt carries, numbered as the answer cites them.
        sources: Vec<fin_r1_core::store::AnswerSource>,
    },
    /// An MCP tool call waits for the analyst: allow once, always for this tool, or not
    /// (`answer_tool_approval`). A result for the call follows either way.
    Approval { request: ApprovalRequest },
    /// The generation's own events, in order; neighbouring text of one kind merged.
    Events { events: Vec<GenerationEvent> },
    /// After the last event: the status the answer is stored with (`MessageStatus::after`), so
    /// the page never maps a stop reason to a status itself.
    Ended { status: MessageStatus },
}

pub struct ChannelSink {
    channel: Channel<StreamMessage>,
    running: Running,
    approvals: Approvals,
    answer_id: Option<i64>,
    pending: Vec<GenerationEvent>,
    bytes: usize,
    last_flush: Instant,
    /// The webview went away (window closed): the turn still runs to the store.
    closed: bool,
}

impl ChannelSink {
    pub fn new(channel: Channel<StreamMessage>, running: Running, approvals: Approvals) -> Self {
        Self { channel, running, approvals, answer_id: None, pending: Vec::new(), bytes: 0, last_flush: Instant::now(), closed: false }
    }

    fn send(&mut self, m: StreamMessage) {
        if !self.closed && self.channel.send(m).is_err() {
            self.closed = true;
        }
    }

    pub fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let events = std::mem::take(&mut self.pending);
        self.bytes = 0;
        self.last_flush = Instant::now();
        self.send(StreamMessage::Events { events });
    }

    fn push_text(&mut self, ev: &GenerationEvent, text: &str) {
        if self.bytes + text.len() > MAX_BATCH_BYTES {
            self.flush();
        }
        let merged = match (self.pending.last_mut(), ev) {
            (Some(GenerationEvent::Reasoning { text: t }), GenerationEvent::Reasoning { .. })
            | (Some(GenerationEvent::Answer { text: t }), GenerationEvent::Answer { .. }) => {
                t.push_str(text);
                true
            }
            _ => false,
        };
        if !merged {
            self.pending.push(ev.clone());
        }
        self.bytes += text.len();
    }
}

impl TurnSink for ChannelSink {
    fn started(&mut self, t: &TurnStarted) {
        self.answer_id = Some(t.answer.id);
        self.running.insert(t.answer.id, t.cancel.clone());
        self.send(StreamMessage::Started {
            conversation_id: t.conversation.id,
            question_id: t.question.id,
            answer_id: t.answer.id,
            created: t.created,
            title: t.conversation.title.clone(),
            notices: t.notices.clone(),
            sources: t.sources.clone(),
        });
        self.last_flush = Instant::now();
    }

    fn event(&mut self, ev: &GenerationEvent) {
        match ev {
            GenerationEvent::Reasoning { text } | GenerationEvent::Answer { text } => {
                self.push_text(ev, text);
                if self.last_flush.elapsed() >= FLUSH_EVERY || self.bytes >= MAX_BATCH_BYTES {
                    self.flush();
                }
            }
            _ => {
                self.pending.push(ev.clone());
                self.flush();
                if let Some(status) = MessageStatus::after(ev) {
                    self.send(StreamMessage::Ended { status });
                }
            }
        }
    }

    fn approve(&mut self, request: &ApprovalRequest) -> Option<tokio::sync::oneshot::Receiver<Approval>> {
        // No window to ask in: the call is not run.
        if self.closed {
            return None;
        }
        self.flush();
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.approvals.insert(request.id.clone(), tx);
        self.send(StreamMessage::Approval { request: request.clone() });
        if self.closed {
            self.approvals.forget_answer(request.answer_id);
            return None;
        }
        Some(rx)
    }
}

impl Drop for ChannelSink {
    fn drop(&mut self) {
        self.flush();
        if let Some(id) = self.answer_id {
            self.running.remove(id);
            self.approvals.forget_answer(id);
        }
    }
}
