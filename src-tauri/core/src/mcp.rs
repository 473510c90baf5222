//! MCP servers whose tools the model may call (the official Rust SDK, `rmcp`, as a client):
//! their configuration (`mcp.json` in the data folder, the `mcpServers` shape Claude Desktop,
//! Cursor and Cline write, so an analyst's existing file works), connections (stdio children and
//! streamable HTTP), each server's tools under a name unique in the turn, and a call with its
//! timeout. Asking the analyst before a call is the runner's (`TurnSink::approve`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use fin_r1_engine::{ToolCall, ToolResult, ToolSpec, ToolStatus};
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock};
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

/// The file in the data folder.
pub const CONFIG_FILE: &str = "mcp.json";
/// A config larger than this is not read (a real one is a few KB).
pub const MAX_CONFIG_BYTES: u64 = 256 * 1024;
/// Servers read from one file; the rest are reported, not connected.
pub const MAX_SERVERS: usize = 32;
/// Tools offered from one server; a server listing more has the rest left out (and says so).
pub const MAX_TOOLS_PER_SERVER: usize = 64;
/// A tool's description in the prompt, at most (a long one costs every turn its tokens).
const MAX_DESCRIPTION: usize = 1024;
/// A tool's parameter schema in the prompt, at most (serialised); larger ones are refused.
const MAX_SCHEMA: usize = 8 * 1024;
/// Starting a server and listing its tools (`npx` may fetch the package the first time).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// A call with no `timeout` of its own in the config.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum McpError {
    #[error("{path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is {size} bytes; an MCP configuration is read up to {MAX_CONFIG_BYTES} bytes")]
    TooLarge { path: PathBuf, size: u64 },
    #[error("the MCP configuration is not valid JSON: {0}")]
    Json(String),
    #[error("could not save the MCP configuration: {0}")]
    Write(std::io::Error),
    #[error("no MCP server is named {0:?}")]
    NoServer(String),
    #[error("MCP server {0:?} is disabled")]
    Disabled(String),
    #[error("MCP server {server:?}: {message}")]
    Server { server: String, message: String },
    #[error("MCP server {server:?} did not answer within {secs} s")]
    Timeout { server: String, secs: u64 },
    #[error("{} changed since it was opened here (an \"always\" given in a chat?): open it again, then save", .0.display())]
    Changed(PathBuf),
}

impl McpError {
    pub fn kind(&self) -> fin_r1_engine::ErrorKind {
        use fin_r1_engine::ErrorKind;
        match self {
            Self::Read { source, .. } | Self::Write(source) => ErrorKind::of_io(source),
            Self::TooLarge { .. } | Self::Json(_) | Self::NoServer(_) | Self::Disabled(_) | Self::Changed(_) => ErrorKind::InvalidRequest,
            Self::Server { .. } | Self::Timeout { .. } => ErrorKind::RemoteServer,
        }
    }
}

/// The file: `{"mcpServers": {"name": {...}}}`; other top-level keys are kept as they were.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct McpConfig {
    #[serde(rename = "mcpServers", default)]
    pub servers: BTreeMap<String, McpServer>,
    #[serde(flatten)]
    #[cfg_attr(feature = "specta", specta(skip))]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// One server: a command (stdio) or a URL (streamable HTTP), as other apps write them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct McpServer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// `stdio`, `http` / `streamable-http` / `streamableHttp`; `sse` (the old transport) is refused.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub transport: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
    /// Seconds a call may take (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Tools the analyst allowed "always" (Cline's key): they run without asking.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub always_allow: Vec<String>,
    /// Keys other apps write that this one does not use: kept when the file is saved.
    #[serde(flatten)]
    #[cfg_attr(feature = "specta", specta(skip))]
    pub other: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Transport {
    Stdio { command: String },
    Http { url: String },
}

impl McpServer {
    fn transport(&self) -> Result<Transport, String> {
        let kind = self.transport.as_deref().map(str::to_ascii_lowercase);
        match (kind.as_deref(), &self.command, &self.url) {
            (Some("sse"), _, _) => Err("the SSE transport is not supported: use the server's streamable HTTP endpoint (`type`: `http`)".into()),
            (Some(k), _, _) if !matches!(k, "stdio" | "http" | "streamable-http" | "streamablehttp" | "streamable_http") => {
                Err(format!("unknown transport type {k:?} (stdio or http)"))
            }
            (_, Some(_), Some(_)) => Err("has both `command` and `url`: give one".into()),
            (Some("stdio") | None, Some(c), None) if !c.trim().is_empty() => Ok(Transport::Stdio { command: c.clone() }),
            (_, None, Some(u)) if u.starts_with("http://") || u.starts_with("https://") => Ok(Transport::Http { url: u.clone() }),
            (_, None, Some(u)) => Err(format!("url {u:?} is not http:// or https://")),
            (Some(k), Some(_), None) if k != "stdio" => Err(format!("type {k:?} needs a `url`")),
            _ => Err("needs a `command` (stdio) or a `url` (streamable HTTP)".into()),
        }
    }

    fn call_timeout(&self) -> Duration {
        self.timeout.filter(|s| *s > 0).map(|s| Duration::from_secs(s.min(3600))).unwrap_or(CALL_TIMEOUT)
    }
}

impl McpConfig {
    /// Reads `text`; what is wrong with a server is said per server (`problems`) and the others
    /// still work.
    pub fn parse(text: &str) -> Result<Self, McpError> {
        let config: McpConfig = serde_json::from_str(text).map_err(|e| McpError::Json(e.to_string()))?;
        Ok(config)
    }

    /// An absent file is an empty configuration.
    pub fn load(path: &Path) -> Result<Self, McpError> {
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => return Err(McpError::Read { path: path.into(), source }),
            Ok(m) if m.len() > MAX_CONFIG_BYTES => return Err(McpError::TooLarge { path: path.into(), size: m.len() }),
            Ok(_) => {}
        }
        let text = read_limited(path)?;
        Self::parse(&text)
    }

    /// Written whole, then renamed over the old file: a crash leaves the old one or the new one.
    pub fn save(&self, path: &Path) -> Result<(), McpError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| McpError::Json(e.to_string()))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(McpError::Write)?;
        }
        // Named for this write alone: two writers never rename each other's half-written file.
        let tmp = path.with_extension(format!("json.{}.{}.partial", std::process::id(), crate::paths::random_token()));
        std::fs::write(&tmp, text + "\n").map_err(McpError::Write)?;
        std::fs::rename(&tmp, path).map_err(McpError::Write)
    }

    /// What would stop each server from connecting, by name.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.servers.len() > MAX_SERVERS {
            out.push(format!("{} servers: only the first {MAX_SERVERS} are used", self.servers.len()));
        }
        let mut prefixes: HashMap<String, &str> = HashMap::new();
        for (name, s) in self.servers.iter().take(MAX_SERVERS) {
            if let Err(e) = s.transport() {
                out.push(format!("{name}: {e}"));
            }
            if name.trim().is_empty() {
                out.push("a server has an empty name".into());
            }
            if let Some(other) = prefixes.insert(prefix(name), name) {
                out.push(format!("{name}: its tools would be named as {other}'s (rename one)"));
            }
        }
        out
    }

    /// Servers the model may be offered: not disabled, within the limit.
    pub fn enabled(&self) -> Vec<String> {
        self.servers.iter().take(MAX_SERVERS).filter(|(_, s)| !s.disabled).map(|(n, _)| n.clone()).collect()
    }
}

fn read_limited(path: &Path) -> Result<String, McpError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|source| McpError::Read { path: path.into(), source })?;
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes).map_err(|source| McpError::Read { path: path.into(), source })?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(McpError::TooLarge { path: path.into(), size: bytes.len() as u64 });
    }
    String::from_utf8(bytes).map_err(|_| McpError::Json("the file is not UTF-8 text".into()))
}

/// A server's name as the start of its tools' names: what OpenAI-style tool names allow.
fn prefix(server: &str) -> String {
    let p: String = server.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).take(24).collect();
    p
}

/// The name the model calls: `server__tool`, at most 64 characters.
pub fn call_name(server: &str, tool: &str) -> String {
    let t: String = tool.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    let mut n = format!("{}__{}", prefix(server), t);
    n.truncate(64);
    n
}

/// A tool the model may call, from a connected server.
#[derive(Debug, Clone, PartialEq)]
pub struct McpTool {
    pub server: String,
    /// The server's own name for it.
    pub tool: String,
    pub spec: ToolSpec,
    /// The analyst said "always" for it.
    pub always_allowed: bool,
    pub timeout: Duration,
}

/// A server as Settings shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct McpServerStatus {
    pub name: String,
    /// `stdio` or `http`.
    pub transport: String,
    pub disabled: bool,
    pub connected: bool,
    /// The model's names for the tools, with the server's descriptions.
    pub tools: Vec<McpToolInfo>,
    /// Why it is not connected, or what was left out.
    pub problem: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct McpToolInfo {
    pub name: String,
    pub call_name: String,
    pub description: String,
    pub always_allowed: bool,
}

struct Connection {
    /// The config it was made from: a changed entry reconnects.
    config: McpServer,
    service: RunningService<RoleClient, ()>,
    tools: Vec<McpTool>,
    /// Tools the server listed beyond what is offered, or refused (for Settings).
    note: Option<String>,
}

/// The MCP servers of one data folder: the file, and connections made on first use.
pub struct McpHub {
    path: PathBuf,
    connections: Mutex<HashMap<String, Arc<Connection>>>,
    /// Serialises connecting, so two turns do not start one server twice.
    connecting: Mutex<()>,
    /// Serialises reading and rewriting the file (Settings' save, an "always").
    file: Mutex<()>,
    /// A server that just failed to start, with why: not tried again for `RETRY_AFTER`, so a
    /// broken entry does not hold up every question.
    failed: std::sync::Mutex<HashMap<String, (Instant, String)>>,
}

/// How long a server that failed to start is left alone.
pub const RETRY_AFTER: Duration = Duration::from_secs(60);

impl std::fmt::Debug for McpHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpHub").field("path", &self.path).finish_non_exhaustive()
    }
}

impl McpHub {
    pub fn new(data_dir: &Path) -> Self {
        Self::with_file(data_dir.join(CONFIG_FILE))
    }

    pub fn with_file(path: PathBuf) -> Self {
        Self { path, connections: Mutex::new(HashMap::new()), connecting: Mutex::new(()), file: Mutex::new(()), failed: std::sync::Mutex::new(HashMap::new()) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn config(&self) -> Result<McpConfig, McpError> {
        McpConfig::load(&self.path)
    }

    /// Saves a new configuration; servers whose entry changed or went away are disconnected.
    pub async fn set_config(&self, config: &McpConfig) -> Result<(), McpError> {
        let _file = self.file.lock().await;
        self.save_locked(config).await
    }

    async fn save_locked(&self, config: &McpConfig) -> Result<(), McpError> {
        config.save(&self.path)?;
        if let Ok(mut f) = self.failed.lock() {
            f.clear();
        }
        let mut conns = self.connections.lock().await;
        conns.retain(|name, c| config.servers.get(name).is_some_and(|s| !s.disabled && same_connection(s, &c.config)));
        Ok(())
    }

    /// Remembers the analyst's "always for this tool".
    pub async fn allow_always(&self, server: &str, tool: &str) -> Result<(), McpError> {
        let _file = self.file.lock().await;
        let mut config = self.config()?;
        let entry = config.servers.get_mut(server).ok_or_else(|| McpError::NoServer(server.into()))?;
        if !entry.always_allow.iter().any(|t| t == tool) {
            entry.always_allow.push(tool.to_owned());
        }
        config.save(&self.path)
    }

    /// The tools of `servers` (connecting those not yet connected); a server that fails is
    /// reported and left out, the others are offered.
    pub async fn tools(&self, servers: &[String]) -> (Vec<McpTool>, Vec<String>) {
        let config = match self.config() {
            Ok(c) => c,
            Err(e) => return (Vec::new(), vec![e.to_string()]),
        };
        let mut tools = Vec::new();
        let mut problems = Vec::new();
        for name in servers {
            match self.connection(&config, name).await {
                Ok(c) => tools.extend(c.tools.iter().map(|t| as_configured(t, &config))),
                Err(e) => problems.push(e.to_string()),
            }
        }
        (tools, problems)
    }

    /// Every configured server, connecting the enabled ones, for Settings.
    pub async fn status(&self) -> Result<Vec<McpServerStatus>, McpError> {
        let config = self.config()?;
        let mut out = Vec::new();
        for (name, s) in config.servers.iter().take(MAX_SERVERS) {
            let transport = match s.transport() {
                Ok(Transport::Stdio { .. }) => "stdio",
                Ok(Transport::Http { .. }) => "http",
                Err(_) => "",
            };
            let mut st =
                McpServerStatus { name: name.clone(), transport: transport.into(), disabled: s.disabled, connected: false, tools: Vec::new(), problem: None };
            if !s.disabled {
                match self.connection(&config, name).await {
                    Ok(c) => {
                        st.connected = true;
                        st.problem = c.note.clone();
                        st.tools = c
                            .tools
                            .iter()
                            .map(|t| as_configured(t, &config))
                            .map(|t| McpToolInfo {
                                name: t.tool.clone(),
                                call_name: t.spec.name.clone(),
                                description: t.spec.description.clone(),
                                always_allowed: t.always_allowed,
                            })
                            .collect();
                    }
                    Err(e) => st.problem = Some(e.to_string()),
                }
            }
            out.push(st);
        }
        Ok(out)
    }

    async fn connection(&self, config: &McpConfig, name: &str) -> Result<Arc<Connection>, McpError> {
        let server = config.servers.get(name).ok_or_else(|| McpError::NoServer(name.into()))?;
        if server.disabled {
            return Err(McpError::Disabled(name.into()));
        }
        let live = |conns: &HashMap<String, Arc<Connection>>| {
            conns.get(name).filter(|c| same_connection(server, &c.config) && !c.service.is_transport_closed()).cloned()
        };
        // Connected already: no waiting behind another server's start.
        if let Some(c) = live(&*self.connections.lock().await) {
            return Ok(c);
        }
        if let Some((at, why)) = self.failed.lock().ok().and_then(|f| f.get(name).cloned()) {
            if at.elapsed() < RETRY_AFTER {
                let message = format!("{why} (tried {} s ago; tried again after {} s)", at.elapsed().as_secs(), RETRY_AFTER.as_secs());
                return Err(McpError::Server { server: name.into(), message });
            }
        }
        let _guard = self.connecting.lock().await;
        if let Some(c) = live(&*self.connections.lock().await) {
            return Ok(c);
        }
        let made = match tokio::time::timeout(CONNECT_TIMEOUT, connect(name, server)).await {
            Ok(r) => r,
            Err(_) => Err(McpError::Timeout { server: name.into(), secs: CONNECT_TIMEOUT.as_secs() }),
        };
        match made {
            Ok(c) => {
                let c = Arc::new(c);
                self.connections.lock().await.insert(name.to_owned(), c.clone());
                if let Ok(mut f) = self.failed.lock() {
                    f.remove(name);
                }
                Ok(c)
            }
            Err(e) => {
                let why = match &e {
                    McpError::Server { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                if let Ok(mut f) = self.failed.lock() {
                    f.insert(name.to_owned(), (Instant::now(), why));
                }
                Err(e)
            }
        }
    }

    /// Runs one call; the result (or the server's error, or the timeout) is what the model reads.
    pub async fn call(&self, tool: &McpTool, call: &ToolCall) -> ToolResult {
        let started = Instant::now();
        // The timeout holds for all of it: a server still starting counts against it too.
        let outcome = match tokio::time::timeout(tool.timeout + CONNECT_TIMEOUT, self.call_inner(tool, call)).await {
            Ok(r) => r,
            Err(_) => Err(McpError::Timeout { server: tool.server.clone(), secs: (tool.timeout + CONNECT_TIMEOUT).as_secs() }),
        };
        let (status, content) = match outcome {
            Ok((false, text)) => (ToolStatus::Done, text),
            Ok((true, text)) => (ToolStatus::Error, format!("error: {text}")),
            Err(e @ McpError::Timeout { .. }) => (ToolStatus::Timeout, format!("error: {e}")),
            Err(e) => (ToolStatus::Error, format!("error: {e}")),
        };
        ToolResult {
            id: call.id.clone(),
            name: call.name.clone(),
            source: tool.server.clone(),
            status,
            content: crate::tools::cut(content),
            ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }

    async fn call_inner(&self, tool: &McpTool, call: &ToolCall) -> Result<(bool, String), McpError> {
        let config = self.config()?;
        let conn = self.connection(&config, &tool.server).await?;
        let arguments = match &call.arguments {
            serde_json::Value::Object(m) => Some(m.clone()),
            serde_json::Value::Null => None,
            other => {
                return Ok((true, format!("the arguments must be a JSON object, not {other}")));
            }
        };
        let mut params = CallToolRequestParams::new(tool.tool.clone());
        params.arguments = arguments;
        let secs = tool.timeout.as_secs();
        let peer = conn.service.peer().clone();
        let result = tokio::time::timeout(tool.timeout, peer.call_tool(params)).await;
        match result {
            Err(_) => {
                // A server that hangs on one call may hang on all: the next call reconnects.
                self.connections.lock().await.remove(&tool.server);
                Err(McpError::Timeout { server: tool.server.clone(), secs })
            }
            Ok(Err(e)) => {
                if conn.service.is_transport_closed() {
                    self.connections.lock().await.remove(&tool.server);
                }
                Err(McpError::Server { server: tool.server.clone(), message: e.to_string() })
            }
            Ok(Ok(r)) => Ok((r.is_error.unwrap_or(false), result_text(&r))),
        }
    }

    /// Stops every server (the app quits, the settings changed).
    pub async fn disconnect_all(&self) {
        self.connections.lock().await.clear();
        if let Ok(mut f) = self.failed.lock() {
            f.clear();
        }
    }

    /// The file's text as it is now (Settings compares it with what it loaded before saving).
    pub fn text(&self) -> Result<Option<String>, McpError> {
        if !self.path.is_file() {
            return Ok(None);
        }
        read_limited(&self.path).map(Some)
    }

    /// Saves `config` unless the file changed since its text was `loaded` (an "always" given in
    /// a chat meanwhile would otherwise be lost).
    pub async fn set_config_if_unchanged(&self, config: &McpConfig, loaded: Option<&str>) -> Result<(), McpError> {
        let _file = self.file.lock().await;
        if self.text()?.as_deref() != loaded {
            return Err(McpError::Changed(self.path.clone()));
        }
        self.save_locked(config).await
    }
}

/// A tool with what the file says now ("always", the timeout), which may have changed since
/// its server connected.
fn as_configured(t: &McpTool, config: &McpConfig) -> McpTool {
    let mut t = t.clone();
    if let Some(s) = config.servers.get(&t.server) {
        t.always_allowed = s.always_allow.iter().any(|a| a == &t.tool);
        t.timeout = s.call_timeout();
    }
    t
}

fn same_connection(a: &McpServer, b: &McpServer) -> bool {
    a.command == b.command && a.args == b.args && a.env == b.env && a.cwd == b.cwd && a.url == b.url && a.headers == b.headers && a.transport == b.transport
}

async fn connect(name: &str, server: &McpServer) -> Result<Connection, McpError> {
    let err = |message: String| McpError::Server { server: name.to_owned(), message };
    let service = match server.transport().map_err(err)? {
        Transport::Stdio { command } => {
            let mut cmd = tokio::process::Command::new(&command);
            cmd.args(&server.args).envs(&server.env).kill_on_drop(true);
            if let Some(dir) = &server.cwd {
                cmd.current_dir(dir);
            }
            let (child, _stderr) =
                TokioChildProcess::builder(cmd).stderr(std::process::Stdio::null()).spawn().map_err(|e| err(format!("could not start {command:?}: {e}")))?;
            ().serve(child).await.map_err(|e| err(format!("did not start as an MCP server: {e}")))?
        }
        Transport::Http { url } => {
            install_tls_provider();
            let mut config = StreamableHttpClientTransportConfig::with_uri(url.as_str());
            let mut headers = HashMap::new();
            for (k, v) in &server.headers {
                if k.eq_ignore_ascii_case("authorization") {
                    config = config.auth_header(v.strip_prefix("Bearer ").unwrap_or(v).to_owned());
                    continue;
                }
                let name = http::HeaderName::try_from(k.as_str()).map_err(|e| err(format!("header {k:?}: {e}")))?;
                let value = http::HeaderValue::try_from(v.as_str()).map_err(|e| err(format!("header {k:?}: {e}")))?;
                headers.insert(name, value);
            }
            let config = config.custom_headers(headers);
            let transport = StreamableHttpClientTransport::from_config(config);
            ().serve(transport).await.map_err(|e| err(format!("{url}: {e}")))?
        }
    };
    let listed = service.peer().list_all_tools().await.map_err(|e| err(format!("could not list its tools: {e}")))?;
    let mut tools = Vec::new();
    let mut left_out = Vec::new();
    let timeout = server.call_timeout();
    for t in listed.iter() {
        if tools.len() >= MAX_TOOLS_PER_SERVER {
            left_out.push(format!("{} (over {MAX_TOOLS_PER_SERVER} tools)", t.name));
            continue;
        }
        let parameters = serde_json::Value::Object((*t.input_schema).clone());
        if parameters.to_string().len() > MAX_SCHEMA {
            left_out.push(format!("{} (its parameter schema is over {MAX_SCHEMA} bytes)", t.name));
            continue;
        }
        let mut description = t.description.as_deref().unwrap_or("").to_owned();
        if description.len() > MAX_DESCRIPTION {
            let mut end = MAX_DESCRIPTION;
            while !description.is_char_boundary(end) {
                end -= 1;
            }
            description.truncate(end);
            description.push('…');
        }
        tools.push(McpTool {
            server: name.to_owned(),
            tool: t.name.to_string(),
            spec: ToolSpec { name: call_name(name, &t.name), description, parameters },
            always_allowed: server.always_allow.iter().any(|a| a == t.name.as_ref()),
            timeout,
        });
    }
    let note = (!left_out.is_empty()).then(|| format!("left out: {}", left_out.join(", ")));
    Ok(Connection { config: server.clone(), service, tools, note })
}

/// The text of a result, as the model reads it: text blocks in order, other blocks named.
fn result_text(r: &CallToolResult) -> String {
    let mut parts: Vec<String> = Vec::new();
    for block in &r.content {
        match block {
            ContentBlock::Text(t) => parts.push(t.text.clone()),
            ContentBlock::Image(i) => parts.push(format!("[image: {}, {} bytes of base64]", i.mime_type, i.data.len())),
            ContentBlock::Audio(a) => parts.push(format!("[audio: {}, {} bytes of base64]", a.mime_type, a.data.len())),
            ContentBlock::Resource(r) => parts.push(match &r.resource {
                rmcp::model::ResourceContents::TextResourceContents { uri, text, .. } => format!("[resource {uri}]\n{text}"),
                rmcp::model::ResourceContents::BlobResourceContents { uri, blob, .. } => format!("[resource {uri}: {} bytes of base64]", blob.len()),
                _ => "[a resource of a kind this app does not read]".to_owned(),
            }),
            ContentBlock::ResourceLink(l) => parts.push(format!("[resource link {}]", l.uri)),
            _ => parts.push("[content of a kind this app does not read]".to_owned()),
        }
    }
    if parts.is_empty() {
        if let Some(v) = &r.structured_content {
            parts.push(v.to_string());
        }
    }
    parts.join("\n")
}

static TLS: Once = Once::new();

/// rmcp's HTTP client (reqwest 0.13) is built without a TLS provider of its own: it uses
/// rustls with ring, as the rest of the app does.
fn install_tls_provider() {
    TLS.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
