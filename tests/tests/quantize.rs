//! `fin-r1 models quantize`: a safetensors Qwen2 checkpoint (bf16, two shards, as Fin-R1's
//! official weights come) becomes GGUFs the engine runs; their logits are compared with the
//! unquantized (F32) conversion of the same checkpoint.
//!
//! Tolerances, stated: over the logits of every position of a prompt, cosine similarity with
//! the F32 model at least 0.999 for Q8_0 and 0.99 for Q4_K_M, and the F32 model's most likely
//! next token among the quantized model's five most likely at every position (a random-weight
//! model's logits are nearly flat over 152k tokens, so exact top-1 flips between near-ties).

use std::path::{Path, PathBuf};
use std::process::Command;

use fin_r1_engine::runtime::{LoadOptions, Runtime};
use fin_r1_engine::GenerationRequest;
use fin_r1_tests::checkpoint::write_tiny_hf_qwen2;
use fin_r1_tests::{fin_r1_bin, fixture, scratch_dir, QWEN_HEADER_FILE};

fn quantize(dir: &Path, data: &Path, kind: &str) -> PathBuf {
    let out = dir.with_file_name(format!("tiny-{kind}.gguf"));
    let run =
        Command::new(fin_r1_bin()).args(["models", "quantize", "--type", kind, "--data-dir"]).arg(data).arg(dir).arg("-o").arg(&out).output().expect("run");
    assert!(run.status.success(), "{kind}: {}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), out.display().to_string());
    out
}

/// Logits at every position of the prompt.
fn logits(model: &Path, prompt: &[u32]) -> Vec<Vec<f32>> {
    let mut rt = Runtime::load(model, &LoadOptions::default()).expect("load");
    (1..=prompt.len())
        .map(|n| {
            rt.reset_cache();
            rt.forward(&prompt[..n]).expect("forward")
        })
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

fn argmax(v: &[f32]) -> usize {
    v.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i).unwrap_or(0)
}

fn in_top(v: &[f32], token: usize, k: usize) -> bool {
    v.iter().filter(|x| **x > v[token]).count() < k
}

#[test]
fn a_safetensors_checkpoint_becomes_gguf_that_runs_close_to_the_original() {
    let root = scratch_dir().join(format!("quantize-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let ckpt = root.join("Fin-R1-tiny");
    write_tiny_hf_qwen2(&fixture(QWEN_HEADER_FILE), &ckpt, 11).expect("checkpoint");
    let data = root.join("data");

    let f32_model = quantize(&ckpt, &data, "f32");
    let q8 = quantize(&ckpt, &data, "q8_0");
    let q4 = quantize(&ckpt, &data, "q4_k_m");

    // The tokenizer and chat template came along: the real Qwen2 tokenizer encodes as before.
    let rt = Runtime::load(&q4, &LoadOptions::default()).expect("load q4");
    let prompt = rt.tokenizer().encode("两年后收到1000元，折现率5%，现值是多少？ Present value of $1,000.").expect("encode");
    let reference = Runtime::load(&fixture_tiny_reference(), &LoadOptions::default())
        .map(|r| r.tokenizer().encode("两年后收到1000元，折现率5%，现值是多少？ Present value of $1,000.").expect("encode"));
    if let Ok(want) = reference {
        assert_eq!(prompt, want, "the converted tokenizer encodes like the original");
    }
    let prepared = rt
        .prepare(&GenerationRequest { tools: Vec::new(), messages: vec![fin_r1_engine::ChatMessage::user("PV?")], ..Default::default() }, 16)
        .expect("template");
    assert!(prepared.text.contains("<|im_start|>") || prepared.text.contains("<｜User｜>"), "the chat template is in the file: {}", prepared.text);
    drop(rt);

    let want = logits(&f32_model, &prompt);
    for (model, min_cos) in [(&q8, 0.999), (&q4, 0.99)] {
        let got = logits(model, &prompt);
        let cos: Vec<f64> = want.iter().zip(&got).map(|(a, b)| cosine(a, b)).collect();
        let worst = cos.iter().cloned().fold(1.0, f64::min);
        let top1 = want.iter().zip(&got).filter(|(a, b)| argmax(a) == argmax(b)).count() as f64 / want.len() as f64;
        let top5 = want.iter().zip(&got).filter(|(a, b)| in_top(b, argmax(a), 5)).count();
        eprintln!("{}: worst cosine {worst:.5}, top-1 agreement {:.0}%, reference token in top 5 at {top5}/{}", model.display(), top1 * 100.0, want.len());
        assert!(worst >= min_cos, "{}: cosine {worst} < {min_cos}", model.display());
        assert_eq!(top5, want.len(), "{}: the reference's next token fell out of the top 5", model.display());
    }
    // Q4_K_M is smaller than Q8_0, which is smaller than F32.
    let size = |p: &PathBuf| std::fs::metadata(p).expect("size").len();
    assert!(size(&q4) < size(&q8) && size(&q8) < size(&f32_model));

    // It chats through the CLI, and joined the library.
    let chat = Command::new(fin_r1_bin())
        .args(["chat", "--json", "--temperature", "0", "--max-tokens", "8", "--data-dir"])
        .arg(&data)
        .arg("--model")
        .arg(&q4)
        .arg("PV?")
        .output()
        .expect("chat");
    assert!(chat.status.success(), "{}", String::from_utf8_lossy(&chat.stderr));
    let list = Command::new(fin_r1_bin()).args(["models", "list", "--json", "--data-dir"]).arg(&data).output().expect("list");
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).expect("json");
    assert!(list.as_array().expect("array").iter().any(|m| m["source"] == "quantize" && m["quantization"] == "Q4_K_M"), "{list}");
}

#[test]
fn a_checkpoint_that_is_not_qwen2_is_refused_clearly() {
    let root = scratch_dir().join(format!("quantize-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("dir");
    std::fs::write(root.join("config.json"), r#"{"model_type": "mistral"}"#).expect("config");
    let out = Command::new(fin_r1_bin()).args(["models", "quantize"]).arg(&root).arg("-o").arg(root.join("x.gguf")).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only Qwen2 checkpoints"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!root.join("x.gguf").exists());
}

/// The tiny GGUF test model, whose tokenizer came straight from the real header.
fn fixture_tiny_reference() -> PathBuf {
    fin_r1_tests::tiny_qwen2(&fin_r1_tests::TinySpec::default())
}

#[test]
fn the_official_weights_are_fetched_from_the_hub_and_quantized_here() {
    let root = scratch_dir().join(format!("official-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let ckpt = root.join("checkpoint");
    write_tiny_hf_qwen2(&fixture(QWEN_HEADER_FILE), &ckpt, 5).expect("checkpoint");
    let hub = fin_r1_tests::hub::Hub::start();
    for entry in std::fs::read_dir(&ckpt).expect("dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).expect("name").to_owned();
        hub.add("SUFE-AIFLM-Lab/Fin-R1", &name, std::fs::read(&path).expect("read"));
    }
    hub.add("SUFE-AIFLM-Lab/Fin-R1", "README.md", b"# Fin-R1".to_vec());
    let data = root.join("data");
    let out = Command::new(fin_r1_bin())
        .args(["models", "get", "fin-r1-official", "--type", "q8_0", "--endpoint", &hub.endpoint(), "--cache-dir"])
        .arg(root.join("hf-cache"))
        .arg("--data-dir")
        .arg(&data)
        .env_remove("HF_TOKEN")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let gguf = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert_eq!(gguf, data.join("models").join("Fin-R1-Q8_0.gguf"));
    assert!(stderr.contains("Added to the library"), "{stderr}");
    // README.md was not fetched: only what a conversion needs.
    assert!(!root.join("hf-cache/models--SUFE-AIFLM-Lab--Fin-R1/snapshots").join(fin_r1_tests::hub::COMMIT).join("README.md").exists());
    let chat = Command::new(fin_r1_bin())
        .args(["chat", "--json", "--temperature", "0", "--max-tokens", "4", "--data-dir"])
        .arg(&data)
        .arg("--model")
        .arg(&gguf)
        .arg("现值?")
        .output()
        .expect("chat");
    assert!(chat.status.success(), "{}", String::from_utf8_lossy(&chat.stderr));
}

/// Records job events and stops the job at the first quantized tensor.
struct StopAtFirstTensor {
    cancel: fin_r1_core::model_jobs::JobCancel,
    seen: std::sync::Mutex<Vec<fin_r1_core::model_jobs::JobEvent>>,
}

impl fin_r1_core::hub::Progress for StopAtFirstTensor {
    fn start(&self, _: &str, _: u64, _: u64) {}
    fn advance(&self, _: u64) {}
}

impl fin_r1_core::model_jobs::JobSink for StopAtFirstTensor {
    fn event(&self, e: fin_r1_core::model_jobs::JobEvent) {
        if matches!(e, fin_r1_core::model_jobs::JobEvent::Quantize { .. }) {
            self.cancel.cancel();
        }
        self.seen.lock().expect("lock").push(e);
    }
}

/// Stopping a quantization stops the quantizer itself: the job ends only once it has stopped,
/// with no output and no partial file; nothing appears afterwards. (Stopping once only dropped
/// the task waiting on it: the quantizer ran on and renamed its output into place while the
/// job slot read free.)
#[test]
fn a_cancelled_quantization_stops_and_leaves_no_file() {
    use fin_r1_core::model_jobs::{quantize_checkpoint, JobCancel, JobError};
    let root = scratch_dir().join(format!("quantize-cancel-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let ckpt = root.join("Fin-R1-tiny");
    write_tiny_hf_qwen2(&fixture(QWEN_HEADER_FILE), &ckpt, 3).expect("checkpoint");
    let out = root.join("models").join("tiny-Q8_0.gguf");
    let cancel = JobCancel::default();
    let sink = std::sync::Arc::new(StopAtFirstTensor { cancel: cancel.clone(), seen: Default::default() });
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let target = "q8_0".parse().expect("target");
    let r = rt.block_on(quantize_checkpoint(&ckpt, &out, target, None, None, sink.clone(), &cancel));
    assert!(matches!(r, Err(JobError::Cancelled)), "{r:?}");
    assert_eq!(r.as_ref().err().map(|e| e.kind()), Some(fin_r1_engine::ErrorKind::Cancelled));
    let quantized = sink.seen.lock().expect("lock").iter().filter(|e| matches!(e, fin_r1_core::model_jobs::JobEvent::Quantize { .. })).count();
    assert_eq!(quantized, 1, "it stopped at the first tensor");
    let partial = out.with_extension("gguf.partial");
    for _ in 0..3 {
        assert!(!out.exists(), "a cancelled quantization wrote its output");
        assert!(!partial.exists(), "a cancelled quantization left its partial file");
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    // And a run that is not stopped still completes.
    let r = rt.block_on(quantize_checkpoint(
        &ckpt,
        &out,
        target,
        None,
        None,
        std::sync::Arc::new(StopAtFirstTensor { cancel: JobCancel::default(), seen: Default::default() }),
        &JobCancel::default(),
    ));
    assert!(r.is_ok(), "{r:?}");
    assert!(out.is_file() && !partial.exists());
}
