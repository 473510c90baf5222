use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use fin_r1_core::store::{Message, MessageRole, MessageStatus, SearchField, Store, StoreError};

#[derive(Args, Debug)]
pub struct ConversationsArgs {
    #[command(subcommand)]
    command: ConversationsCommand,
    /// Data folder holding the conversation store (default: the platform's app data folder, or
    /// $FIN_R1_DATA_DIR).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum ConversationsCommand {
    /// Conversations, pinned first, then the most recently updated.
    List {
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// A conversation's branch on show: questions, reasoning, answers and their figures.
    Show {
        /// Its id, or `latest`.
        conversation: String,
        /// Leave the reasoning out.
        #[arg(long)]
        no_reasoning: bool,
    },
    /// Titles, questions, reasoning and answers containing the words (Chinese included).
    Search {
        query: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    Rename {
        conversation: String,
        title: String,
    },
    /// Hide a conversation; `restore` brings it back until it is purged (12 hours later).
    Delete {
        conversation: String,
    },
    Restore {
        id: i64,
    },
}

pub fn run(a: ConversationsArgs) -> anyhow::Result<i32> {
    let runtime = fin_r1_core::rt::local().context("starting the async runtime")?;
    let data_dir = super::data_dir(&a.data_dir);
    runtime.block_on(async move {
        let Some(store) = super::open_store(&data_dir).await else { return Ok(1) };
        let code = match command(&store, a).await {
            Ok(()) => 0,
            Err(e) => match e.downcast_ref::<StoreError>() {
                Some(se) => fail(se),
                None => return Err(e),
            },
        };
        store.close().await;
        Ok(code)
    })
}

fn fail(e: &StoreError) -> i32 {
    eprintln!("fin-r1: {e}");
    1
}

async fn command(store: &Store, a: ConversationsArgs) -> anyhow::Result<()> {
    match a.command {
        ConversationsCommand::List { limit } => {
            let list = store.list_conversations(limit).await?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            if list.is_empty() {
                eprintln!("No conversations yet: `fin-r1 chat --model FILE.gguf \"question\"` starts one.");
            }
            for s in list {
                let c = &s.conversation;
                println!(
                    "{:>5} {} {}  {:>3} msg  {:<22} {}",
                    c.id,
                    if c.pinned { "*" } else { " " },
                    local_time(c.updated_at),
                    s.messages,
                    c.scenario_id.as_deref().unwrap_or("-"),
                    fin_r1_core::title::short(&c.title, 60)
                );
            }
        }
        ConversationsCommand::Show { conversation, no_reasoning } => {
            let c = store.resolve(&conversation).await?;
            let path = store.active_path(c.id).await?;
            if a.json {
                let all = store.messages(c.id).await?;
                let v = serde_json::json!({ "conversation": c, "active_path": path.iter().map(|m| m.id).collect::<Vec<_>>(), "messages": all });
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(());
            }
            let color = std::io::stdout().is_terminal();
            println!("# {}", fin_r1_core::title::first_line(&c.title));
            println!(
                "conversation {} · {} · scenario {} · model {}",
                c.id,
                local_time(c.created_at),
                c.scenario_id.as_deref().unwrap_or("none"),
                c.model.as_deref().unwrap_or("?")
            );
            for m in &path {
                print_message(m, !no_reasoning, color);
            }
        }
        ConversationsCommand::Search { query, limit } => {
            let hits = store.search(&query, limit).await?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&hits)?);
                return Ok(());
            }
            if hits.is_empty() {
                eprintln!("Nothing found for {query:?}.");
            }
            for h in hits {
                let field = match h.field {
                    SearchField::Title => "title",
                    SearchField::Question => "question",
                    SearchField::Reasoning => "reasoning",
                    SearchField::Answer => "answer",
                    SearchField::Attachment => "document",
                };
                println!("{:>5}  {:<9}  {}  ·  {}", h.conversation_id, field, fin_r1_core::title::short(&h.title, 40), h.snippet);
            }
        }
        ConversationsCommand::Rename { conversation, title } => {
            let c = store.resolve(&conversation).await?;
            store.rename(c.id, title.trim()).await?;
        }
        ConversationsCommand::Delete { conversation } => {
            let c = store.resolve(&conversation).await?;
            store.delete_conversation(c.id).await?;
            eprintln!("Deleted conversation {} ({}); `fin-r1 conversations restore {}` brings it back.", c.id, fin_r1_core::title::short(&c.title, 60), c.id);
        }
        ConversationsCommand::Restore { id } => {
            store.restore_conversation(id).await?;
        }
    }
    Ok(())
}

fn print_message(m: &Message, reasoning: bool, color: bool) {
    let (dim, reset) = if color { ("\x1b[2m", "\x1b[0m") } else { ("", "") };
    match m.role {
        MessageRole::User => println!("\n── Question ({}) ──\n{}", m.id, m.content.trim_end()),
        MessageRole::System => println!("\n── System ──\n{}", m.content.trim_end()),
        MessageRole::Assistant => {
            if reasoning && !m.reasoning.trim().is_empty() {
                println!("\n── Reasoning ──\n{dim}{}{reset}", m.reasoning.trim_end());
            }
            println!("\n── Answer ({}) ──\n{}", m.id, m.answer.trim_end());
            let mut facts = vec![m.status.as_str().to_owned()];
            if let (Some(r), Some(a)) = (m.reasoning_tokens, m.answer_tokens) {
                facts.push(format!("{r} reasoning + {a} answer tokens"));
            }
            if let Some(t) = m.ttft_ms {
                facts.push(format!("first token {:.2} s", t / 1e3));
            }
            if let Some(d) = m.decode_tok_s {
                facts.push(format!("{d:.1} tok/s"));
            }
            if let Some(e) = &m.engine {
                facts.push(format!("{} {}", e.engine, e.model_file.as_deref().unwrap_or("")));
            }
            if let Some(seed) = m.seed {
                facts.push(format!("seed {seed}"));
            }
            if m.status == MessageStatus::Error {
                facts.push(m.error_message.clone().unwrap_or_default());
            }
            println!("{dim}[{}]{reset}", facts.join(" · "));
        }
    }
}

/// Unix milliseconds as local date and time.
pub fn local_time(ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t.to_zoned(jiff::tz::TimeZone::system()).strftime("%Y-%m-%d %H:%M").to_string(),
        Err(_) => ms.to_string(),
    }
}
