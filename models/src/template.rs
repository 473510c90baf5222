//! The chat prompt: the GGUF's own `tokenizer.chat_template` rendered with minijinja the way
//! Hugging Face renders it (trim_blocks, lstrip_blocks, Python string methods,
//! `raise_exception`), or Qwen2.5's ChatML when the file has none.

use minijinja::{Environment, ErrorKind, Value};
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

pub const CHATML_TEMPLATE: &str = "{%- for message in messages %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n{% endfor %}{%- if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    /// A tool's result, answering an assistant turn's tool call.
    Tool,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
            Self::Tool => "tool",
        }
    }
}

/// A function the model may call: OpenAI's `tools[].function` (name, description, JSON Schema).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "empty_object")]
    pub parameters: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::json!({"type": "object", "properties": {}})
}

/// A call the model wrote (`<tool_call>{"name": …, "arguments": {…}}</tool_call>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ToolCall {
    /// Unique within the answer (`call_1`, or the remote server's id).
    pub id: String,
    pub name: String,
    /// A JSON object.
    pub arguments: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    /// For an assistant turn: its answer; for a tool: its result.
    pub content: String,
    /// For an assistant turn: its reasoning chain, kept by the store, never sent back into the
    /// prompt (R1-style models are trained without earlier turns' reasoning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// For an assistant turn: the tools it called.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For a tool's result: the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        Self { role: Role::System, content: content.into(), reasoning: None, tool_calls: Vec::new(), tool_call_id: None }
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self { role: Role::User, content: content.into(), reasoning: None, tool_calls: Vec::new(), tool_call_id: None }
    }
    pub fn assistant(content: impl Into<String>, reasoning: Option<String>) -> Self {
        Self { role: Role::Assistant, content: content.into(), reasoning, tool_calls: Vec::new(), tool_call_id: None }
    }
    pub fn tool(call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self { role: Role::Tool, content: content.into(), reasoning: None, tool_calls: Vec::new(), tool_call_id: Some(call_id.into()) }
    }
}

/// The most a call's name may be.
const MAX_TOOL_NAME: usize = 128;

/// A tool call's body as the model wrote it (`{"name": …, "arguments": {…}}`); `n` numbers it
/// within the answer. The error says what is wrong, for the note beside the text.
pub fn parse_tool_call(body: &str, n: usize) -> std::result::Result<ToolCall, String> {
    let v: serde_json::Value = serde_json::from_str(body.trim()).map_err(|e| format!("not JSON: {e}"))?;
    let name = v.get("name").and_then(serde_json::Value::as_str).ok_or("no \"name\"")?;
    if name.is_empty() || name.len() > MAX_TOOL_NAME {
        return Err("the name is empty or too long".into());
    }
    let arguments = match v.get("arguments") {
        None | Some(serde_json::Value::Null) => serde_json::json!({}),
        Some(a @ serde_json::Value::Object(_)) => a.clone(),
        // Some models write the arguments as a JSON string, as OpenAI's API carries them.
        Some(serde_json::Value::String(s)) => match serde_json::from_str::<serde_json::Value>(s) {
            Ok(a @ serde_json::Value::Object(_)) => a,
            _ => return Err("\"arguments\" is not a JSON object".into()),
        },
        Some(_) => return Err("\"arguments\" is not a JSON object".into()),
    };
    Ok(ToolCall { id: format!("call_{n}"), name: name.to_owned(), arguments })
}

/// Tools, tool calls and tool results written into plain system, user and assistant turns,
/// exactly as Qwen2.5's chat template writes them (a `# Tools` section in the system prompt,
/// `<tool_call>` after the assistant's text, results as a user turn of `<tool_response>`s): so
/// any template renders them, and Fin-R1, trained on Qwen2.5's, reads what it was taught.
pub fn with_tools(messages: &[ChatMessage], tools: &[ToolSpec]) -> Vec<ChatMessage> {
    let mut out: Vec<ChatMessage> = Vec::with_capacity(messages.len() + 1);
    if !tools.is_empty() {
        let mut section = String::from(
            "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>",
        );
        for t in tools {
            let f = serde_json::json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}});
            section.push('\n');
            section.push_str(&f.to_string());
        }
        section.push_str("\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>");
        match messages.first() {
            Some(m) if m.role == Role::System && !m.content.is_empty() => out.push(ChatMessage::system(format!("{}\n\n{section}", m.content))),
            _ => out.push(ChatMessage::system(section)),
        }
    }
    for (i, m) in messages.iter().enumerate() {
        match m.role {
            Role::System if i == 0 && !tools.is_empty() => {}
            Role::Assistant if !m.tool_calls.is_empty() => {
                let mut content = m.content.clone();
                for c in &m.tool_calls {
                    if !content.is_empty() {
                        content.push('\n');
                    }
                    content.push_str(&format!("<tool_call>\n{}\n</tool_call>", serde_json::json!({"name": c.name, "arguments": c.arguments})));
                }
                out.push(ChatMessage::assistant(content, m.reasoning.clone()));
            }
            Role::Tool => {
                let block = format!("<tool_response>\n{}\n</tool_response>", m.content);
                // Results in a row share one user turn.
                match out.last_mut() {
                    Some(last) if last.role == Role::User && i > 0 && messages[i - 1].role == Role::Tool => {
                        last.content.push('\n');
                        last.content.push_str(&block);
                    }
                    _ => out.push(ChatMessage::user(block)),
                }
            }
            _ => out.push(m.clone()),
        }
    }
    out
}

#[derive(Serialize)]
struct TemplateMessage<'a> {
    role: &'a str,
    content: &'a str,
}

pub struct ChatTemplate {
    env: Environment<'static>,
    pub from_model: bool,
    bos: String,
    eos: String,
}

impl ChatTemplate {
    pub fn new(source: Option<&str>, bos: String, eos: String) -> Result<Self> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", |msg: String| -> std::result::Result<Value, minijinja::Error> {
            Err(minijinja::Error::new(ErrorKind::InvalidOperation, msg))
        });
        env.add_function("strftime_now", |fmt: String| strftime_now(&fmt));
        let from_model = source.is_some();
        env.add_template_owned("chat", source.unwrap_or(CHATML_TEMPLATE).to_owned())
            .map_err(|e| EngineError::Template(format!("the model's chat template does not parse: {e}")))?;
        Ok(Self { env, from_model, bos, eos })
    }

    /// The prompt for `messages`, ending where the assistant's next turn begins.
    pub fn render(&self, messages: &[ChatMessage]) -> Result<String> {
        let msgs: Vec<TemplateMessage> = messages.iter().map(|m| TemplateMessage { role: m.role.as_str(), content: &m.content }).collect();
        let tmpl = self.env.get_template("chat").map_err(|e| EngineError::Template(e.to_string()))?;
        tmpl.render(minijinja::context! {
            messages => msgs,
            add_generation_prompt => true,
            bos_token => self.bos,
            eos_token => self.eos,
        })
        .map_err(|e| EngineError::Template(format!("rendering failed: {e}")))
    }
}

/// True when the rendered prompt already opened the reasoning block, so the model's output
/// begins inside it.
pub fn prompt_opens_think(prompt: &str) -> bool {
    prompt.trim_end().ends_with("<think>")
}

/// The subset of strftime that chat templates use (`%d %b %Y`, `%Y-%m-%d`), in UTC.
fn strftime_now(fmt: &str) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    fmt.replace("%d", &format!("{day:02}")).replace("%m", &format!("{month:02}")).replace("%Y", &year.to_string()).replace("%b", MONTHS[(month - 1) as usize])
}
