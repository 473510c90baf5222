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
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    /// For an assistant turn: its answer.
    pub content: String,
    /// For an assistant turn: its reasoning chain, kept by the store, never sent back into the
    /// prompt (R1-style models are trained without earlier turns' reasoning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        Self { role: Role::System, content: content.into(), reasoning: None }
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self { role: Role::User, content: content.into(), reasoning: None }
    }
    pub fn assistant(content: impl Into<String>, reasoning: Option<String>) -> Self {
        Self { role: Role::Assistant, content: content.into(), reasoning }
    }
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
