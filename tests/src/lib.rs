//! Test support: where the fetched fixtures live, and a writer of tiny Qwen2 GGUF models that
//! carry the real Qwen2 tokenizer and chat template (taken from the header of a real
//! DeepSeek-R1-Distill-Qwen-7B Q4_K_M file) with random weights, or with weights built to
//! follow a script token by token so that a whole generation is known in advance.
#![forbid(unsafe_code)]

pub mod checkpoint;
pub mod hostile;
pub mod http;
pub mod hub;
pub mod serve;
pub mod webdriver;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use candle_core::quantized::gguf_file::Value;
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use fin_r1_engine::gguf::{GgufFile, MetaValue};
use fin_r1_engine::sampler::Rng;
use fin_r1_engine::tokenizer::Tokenizer;

pub const SMOLLM2_FILE: &str = "smollm2-135m-instruct-q4_1.gguf";
pub const QWEN_HEADER_FILE: &str = "deepseek-r1-distill-qwen-7b-q4_k_m.part0000";

/// The folder `scripts/fetch-fixtures.sh` fills: `$FIN_R1_FIXTURES`, else
/// `~/.cache/fin-r1/fixtures`.
pub fn fixtures_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("FIN_R1_FIXTURES") {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    home.join(".cache/fin-r1/fixtures")
}

/// A fetched fixture; panics with the command to run when it is missing (tests only).
pub fn fixture(name: &str) -> PathBuf {
    let p = fixtures_dir().join(name);
    assert!(p.is_file(), "fixture {} is missing: run scripts/fetch-fixtures.sh", p.display());
    p
}

/// Data kept in the repository (reference outputs from llama.cpp and the like).
pub fn repo_data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

/// Bumped whenever `write_tiny_qwen2` changes what it writes, so stale files are not reused.
const WRITER_VERSION: u32 = 2;

/// The first X display from `from` on that no server holds: an Xvfb killed with its test leaves
/// its lock file behind, and a second Xvfb on that number exits at once (seen in CI: the app
/// then failed to open GTK and the test waited out every timeout).
pub fn free_display(from: u32) -> u32 {
    (from..from + 1000).find(|n| !Path::new(&format!("/tmp/.X{n}-lock")).exists() && !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()).unwrap_or(from)
}

/// A folder for generated files, shared by test runs.
pub fn scratch_dir() -> PathBuf {
    let d = std::env::temp_dir().join("fin-r1-tests");
    let _ = std::fs::create_dir_all(&d);
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(|| sweep_finished_runs(&d));
    d
}

/// Tests name their folders `<what>-<pid>` and a failed one leaves its folder to be looked at;
/// the folders of processes no longer running are removed (a quantization test's is 600 MB:
/// left alone they filled the CI machine's disk).
fn sweep_finished_runs(dir: &std::path::Path) {
    if !std::path::Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.rsplit('-').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let p = e.path();
            let _ = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
        }
    }
}

/// ChatML with the assistant turn opened inside `<think>`, as DeepSeek-R1's later templates do.
pub const THINKING_TEMPLATE: &str = "{%- for message in messages %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n{% endfor %}{%- if add_generation_prompt %}<|im_start|>assistant\n<think>\n{% endif %}";

#[derive(Debug, Clone)]
pub struct TinySpec {
    pub name: String,
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub ffn: usize,
    pub context: u32,
    pub seed: u64,
    /// Replaces the header's chat template.
    pub chat_template: Option<String>,
    /// When set, the model continues any prompt ending in `script_after` (a token's text) with
    /// this text and then its end-of-sequence token, greedily.
    pub script: Option<String>,
    pub script_after: String,
    /// The script's last token leads back to its first instead of to end-of-sequence: a model
    /// stuck in a loop, as small models get.
    pub script_loops: bool,
    /// A second script, written after a prompt ending in its own token (`.0`): what the model
    /// says once its template ends the prompt differently (after a tool's result). Its tokens
    /// must differ from the first script's.
    pub second_script: Option<(String, String)>,
}

impl Default for TinySpec {
    fn default() -> Self {
        Self {
            name: "tiny-qwen2".into(),
            hidden: 64,
            layers: 2,
            heads: 4,
            kv_heads: 2,
            ffn: 128,
            context: 4096,
            seed: 7,
            chat_template: None,
            script: None,
            script_after: "\n".into(),
            script_loops: false,
            second_script: None,
        }
    }
}

impl TinySpec {
    /// A model that always "thinks": its template opens `<think>` and it writes `script`.
    pub fn thinking(script: &str) -> Self {
        Self { name: "tiny-qwen2-thinking".into(), chat_template: Some(THINKING_TEMPLATE.into()), script: Some(script.into()), ..Self::default() }
    }
}

fn to_candle(v: &MetaValue) -> Value {
    match v {
        MetaValue::U8(x) => Value::U8(*x),
        MetaValue::I8(x) => Value::I8(*x),
        MetaValue::U16(x) => Value::U16(*x),
        MetaValue::I16(x) => Value::I16(*x),
        MetaValue::U32(x) => Value::U32(*x),
        MetaValue::I32(x) => Value::I32(*x),
        MetaValue::U64(x) => Value::U64(*x),
        MetaValue::I64(x) => Value::I64(*x),
        MetaValue::F32(x) => Value::F32(*x),
        MetaValue::F64(x) => Value::F64(*x),
        MetaValue::Bool(x) => Value::Bool(*x),
        MetaValue::String(x) => Value::String(x.clone()),
        MetaValue::Array(x) => Value::Array(x.iter().map(to_candle).collect()),
    }
}

/// `n` normal samples with standard deviation `std`.
pub fn gaussian(rng: &mut Rng, n: usize, std: f32) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let u1 = rng.next_f64().max(1e-12);
            let u2 = rng.next_f64();
            ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32 * std
        })
        .collect()
}

/// Writes a tiny Qwen2 GGUF (Q8_0 matrices, F32 norms and biases) at `out`.
pub fn write_tiny_qwen2(header: &Path, out: &Path, spec: &TinySpec) -> Result<()> {
    let src = GgufFile::open_header_only(header).context("reading the Qwen2 header")?;
    let n_vocab = src.tensor("token_embd.weight").map(|t| t.dims[1] as usize).context("the header has no token_embd.weight")?;
    let (h, f) = (spec.hidden, spec.ffn);
    let hd = h / spec.heads;
    let mut rng = Rng::new(spec.seed);
    let dev = Device::Cpu;
    let mut tensors: Vec<(String, QTensor)> = Vec::new();
    let mut add = |name: String, data: Vec<f32>, shape: &[usize], dtype: GgmlDType| -> Result<()> {
        let t = Tensor::from_vec(data, shape, &dev)?;
        tensors.push((name, QTensor::quantize(&t, dtype)?));
        Ok(())
    };
    let scripted = spec.script.is_some();
    // A scripted model's layers add nothing: each position's state stays its token's embedding.
    let wstd = if scripted { 0.0 } else { 0.08 };
    let mut embd = gaussian(&mut rng, n_vocab * h, 1.0);
    let mut output = gaussian(&mut rng, n_vocab * h, if scripted { 0.02 } else { 0.5 });
    if let Some(script) = &spec.script {
        let tok = Tokenizer::from_gguf(&src, n_vocab)?;
        let mut chain = tok.encode(&spec.script_after)?;
        if chain.len() != 1 {
            bail!("script_after {:?} is not one token", spec.script_after);
        }
        let body = tok.encode(script)?;
        chain.extend(&body);
        chain.push(tok.eos.context("the header names no eos token")?);
        let distinct: HashSet<u32> = chain.iter().copied().collect();
        if distinct.len() != chain.len() {
            bail!("the script repeats a token, so a bigram model cannot follow it: {chain:?}");
        }
        output = vec![0.0; n_vocab * h];
        if spec.script_loops {
            // Back from the last token of the script to its first, in place of the end.
            chain.pop();
            chain.extend(body.first());
        }
        let mut chains = vec![chain];
        if let Some((after, script)) = &spec.second_script {
            let mut second = tok.encode(after)?;
            if second.len() != 1 {
                bail!("the second script's start {after:?} is not one token");
            }
            second.extend(tok.encode(script)?);
            second.push(tok.eos.context("the header names no eos token")?);
            let first: HashSet<u32> = chains[0].iter().copied().collect();
            let eos = tok.eos.unwrap_or(u32::MAX);
            let shared: Vec<u32> = second.iter().copied().filter(|t| *t != eos && first.contains(t)).collect();
            if !shared.is_empty() || second.iter().collect::<HashSet<_>>().len() != second.len() {
                bail!("the second script repeats a token or shares one with the first: {second:?} (shared {shared:?})");
            }
            chains.push(second);
        }
        for chain in &chains {
            for pair in chain.windows(2) {
                let (cur, next) = (pair[0] as usize, pair[1] as usize);
                let e = &mut embd[cur * h..(cur + 1) * h];
                let rms = (e.iter().map(|x| x * x).sum::<f32>() / h as f32).sqrt();
                // Added, not set: the end token follows the last token of either script.
                for (o, x) in output[next * h..(next + 1) * h].iter_mut().zip(e.iter()) {
                    *o += 20.0 * x / rms / h as f32;
                }
            }
        }
    }
    add("token_embd.weight".into(), embd, &[n_vocab, h], GgmlDType::Q8_0)?;
    add("output.weight".into(), output, &[n_vocab, h], GgmlDType::Q8_0)?;
    add("output_norm.weight".into(), vec![1.0; h], &[h], GgmlDType::F32)?;
    for i in 0..spec.layers {
        let b = |n: &str| format!("blk.{i}.{n}");
        let q = spec.heads * hd;
        let kv = spec.kv_heads * hd;
        add(b("attn_norm.weight"), vec![1.0; h], &[h], GgmlDType::F32)?;
        add(b("ffn_norm.weight"), vec![1.0; h], &[h], GgmlDType::F32)?;
        for (n, rows, cols) in [
            ("attn_q.weight", q, h),
            ("attn_k.weight", kv, h),
            ("attn_v.weight", kv, h),
            ("attn_output.weight", h, q),
            ("ffn_gate.weight", f, h),
            ("ffn_up.weight", f, h),
            ("ffn_down.weight", h, f),
        ] {
            add(b(n), gaussian(&mut rng, rows * cols, wstd), &[rows, cols], GgmlDType::Q8_0)?;
        }
        for (n, len) in [("attn_q.bias", q), ("attn_k.bias", kv), ("attn_v.bias", kv)] {
            add(b(n), gaussian(&mut rng, len, wstd), &[len], GgmlDType::F32)?;
        }
    }

    let mut meta: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String("qwen2".into())),
        ("general.name".into(), Value::String(spec.name.clone())),
        ("general.alignment".into(), Value::U32(32)),
        ("qwen2.block_count".into(), Value::U32(spec.layers as u32)),
        ("qwen2.context_length".into(), Value::U32(spec.context)),
        ("qwen2.embedding_length".into(), Value::U32(h as u32)),
        ("qwen2.feed_forward_length".into(), Value::U32(f as u32)),
        ("qwen2.attention.head_count".into(), Value::U32(spec.heads as u32)),
        ("qwen2.attention.head_count_kv".into(), Value::U32(spec.kv_heads as u32)),
        ("qwen2.rope.freq_base".into(), Value::F32(1_000_000.0)),
        ("qwen2.attention.layer_norm_rms_epsilon".into(), Value::F32(1e-6)),
    ];
    for (k, v) in &src.metadata {
        if k.starts_with("tokenizer.") && !(k == "tokenizer.chat_template" && spec.chat_template.is_some()) {
            meta.push((k.clone(), to_candle(v)));
        }
    }
    if let Some(t) = &spec.chat_template {
        meta.push(("tokenizer.chat_template".into(), Value::String(t.clone())));
    }
    let meta_refs: Vec<(&str, &Value)> = meta.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, t)| (k.as_str(), t)).collect();
    // Tests write the same model from several threads: each writes its own file, then renames.
    let tmp = out.with_extension(format!("{}.{:?}.tmp", std::process::id(), std::thread::current().id()).replace(['(', ')'], ""));
    let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    candle_core::quantized::gguf_file::write(&mut w, &meta_refs, &tensor_refs)?;
    drop(w);
    std::fs::rename(&tmp, out)?;
    Ok(())
}

/// The tiny model for `spec`, written once per build into the scratch folder.
pub fn tiny_qwen2(spec: &TinySpec) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    format!("{WRITER_VERSION} {spec:?}").hash(&mut hasher);
    let out = scratch_dir().join(format!("{}-{:016x}.gguf", spec.name, hasher.finish()));
    if !out.is_file() {
        if let Err(e) = write_tiny_qwen2(&fixture(QWEN_HEADER_FILE), &out, spec) {
            panic!("writing tiny model {}: {e:#}", out.display());
        }
    }
    out
}

/// A model that calls the calculator (`3*9`) and, once its template shows it the result (the
/// prompt then ends in `Answer:` instead of opening its reasoning), answers with it. Bigram
/// scripts: every token distinct.
pub fn tool_caller() -> TinySpec {
    TinySpec {
        name: "tiny-qwen2-tools".into(),
        chat_template: Some(TOOL_TEMPLATE.into()),
        script: Some(TOOL_SCRIPT.into()),
        second_script: Some((":".into(), "The product is 27".into())),
        ..TinySpec::default()
    }
}

/// A model that calls the MCP tool `name` with `arguments` (JSON), then answers `answer` once
/// it has read the result.
pub fn mcp_caller(name: &str, arguments: &str, answer: &str) -> TinySpec {
    TinySpec {
        name: "tiny-qwen2-mcp".into(),
        chat_template: Some(TOOL_TEMPLATE.into()),
        script: Some(format!("Ask the server</think><tool_call>{{\"name\":\"{name}\",\"arguments\":{arguments}}}</tool_call>")),
        second_script: Some((":".into(), answer.into())),
        ..TinySpec::default()
    }
}

/// A model that, asked anything, answers citing library passage [1] and a [9] it was not given.
pub fn citer() -> TinySpec {
    TinySpec {
        name: "tiny-qwen2-cites".into(),
        chat_template: Some(THINKING_TEMPLATE.into()),
        script: Some("Read the excerpts</think>Revenue grew [1]; see([9])".into()),
        ..TinySpec::default()
    }
}

/// A real third-party MCP server from the npm registry (scripts/fetch-fixtures.sh installs
/// them): `everything` or `filesystem`; the script node runs.
pub fn mcp_server_script(name: &str) -> PathBuf {
    let p = fixtures_dir().join(format!("mcp-servers/node_modules/@modelcontextprotocol/server-{name}/dist/index.js"));
    assert!(p.is_file(), "MCP server {} is missing: run scripts/fetch-fixtures.sh", p.display());
    p
}

pub const TOOL_SCRIPT: &str = "Use the calculator</think><tool_call>{\"name\":\"calculate\",\"arguments\":{\"expression\": \"3*9\"}}</tool_call>";

/// ChatML whose generation prompt after a tool's result ends in `Answer:` (no reasoning).
pub const TOOL_TEMPLATE: &str = "{%- for message in messages %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n{% endfor %}{%- if add_generation_prompt %}{% if messages[-1].content.startswith('<tool_response>') %}<|im_start|>assistant\nAnswer:{% else %}<|im_start|>assistant\n<think>\n{% endif %}{% endif %}";

/// The reasoning model's script the thinking fixture follows: every token distinct.
pub const THINKING_SCRIPT: &str = "Discount the cash flow twice at five percent</think>The present value is about $907";

/// Copies a GGUF with some metadata replaced (`Some`) or removed (`None`): for files that parse
/// but lie.
pub fn rewrite_metadata(src: &Path, out: &Path, edits: &[(&str, Option<Value>)]) -> Result<()> {
    use candle_core::quantized::gguf_file::Content;
    let mut f = std::fs::File::open(src)?;
    let content = Content::read(&mut f)?;
    let mut meta: Vec<(String, Value)> =
        content.metadata.iter().filter(|(k, _)| !edits.iter().any(|(e, _)| e == k)).map(|(k, v)| (k.clone(), v.clone())).collect();
    for (k, v) in edits {
        if let Some(v) = v {
            meta.push(((*k).to_owned(), v.clone()));
        }
    }
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    let mut tensors = Vec::new();
    for n in names {
        tensors.push((n.clone(), content.tensor(&mut f, n, &Device::Cpu)?));
    }
    let meta_refs: Vec<(&str, &Value)> = meta.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, t)| (k.as_str(), t)).collect();
    let mut w = std::io::BufWriter::new(std::fs::File::create(out)?);
    candle_core::quantized::gguf_file::write(&mut w, &meta_refs, &tensor_refs)?;
    Ok(())
}

/// The `fin-r1` binary of this build (cargo builds the workspace's binaries for its tests).
pub fn fin_r1_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join(format!("fin-r1{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.is_file(), "{} is missing: build it with `cargo build --workspace --bins` (scripts/test.sh does)", bin.display());
    bin
}

/// `fin-r1 export` of the data folder's latest conversation as Markdown (a report file), read back.
pub fn export_latest_markdown(data: &Path) -> String {
    std::fs::read_to_string(export_latest(data, "md")).expect("report")
}

/// `fin-r1 export --conversation latest --format FORMAT` into the data folder; the file's path.
pub fn export_latest(data: &Path, format: &str) -> PathBuf {
    let report = data.join(format!("latest-report.{format}"));
    let out = std::process::Command::new(fin_r1_bin())
        .args(["export", "--conversation", "latest", "--format", format, "--data-dir"])
        .arg(data)
        .arg("-o")
        .arg(&report)
        .output()
        .expect("export");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    report
}
