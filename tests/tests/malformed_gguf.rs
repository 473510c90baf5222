//! Files a user may hand the app by mistake or that arrive damaged: each must give a typed error
//! naming the problem — never a panic, an abort or a runaway allocation.

use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::Value;
use fin_r1_engine::{inspect::inspect, EngineError, LoadOptions, Runtime};
use fin_r1_tests::{rewrite_metadata, scratch_dir, tiny_qwen2, TinySpec};

fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let p = scratch_dir().join(format!("malformed-{name}"));
    std::fs::write(&p, bytes).expect("write");
    p
}

fn good() -> (PathBuf, Vec<u8>) {
    let p = tiny_qwen2(&TinySpec::default());
    let bytes = std::fs::read(&p).expect("read");
    (p, bytes)
}

/// Loads the file the two ways the app does and returns the error (both must fail alike).
fn load_err(p: &Path) -> EngineError {
    let a = inspect(p, false, None).err();
    let b = Runtime::load(p, &LoadOptions::default()).err().expect("a malformed file loaded");
    if let Some(a) = a {
        assert_eq!(a.kind(), b.kind(), "{}: inspect and load disagree", p.display());
    }
    b
}

fn header(n_tensors: u64, n_kv: u64) -> Vec<u8> {
    let mut v = b"GGUF".to_vec();
    v.extend(3u32.to_le_bytes());
    v.extend(n_tensors.to_le_bytes());
    v.extend(n_kv.to_le_bytes());
    v
}

#[test]
fn truncated_files_are_refused_at_every_cut() {
    let (_, bytes) = good();
    let cuts = [0, 3, 4, 8, 15, 23, 24, 40, 1_000, 100_000, bytes.len() / 4, bytes.len() / 2, bytes.len() - 4096, bytes.len() - 1];
    for cut in cuts {
        let p = write(&format!("cut-{cut}"), &bytes[..cut]);
        let e = load_err(&p);
        assert!(
            matches!(e.kind(), fin_r1_engine::ErrorKind::Truncated | fin_r1_engine::ErrorKind::NotGguf | fin_r1_engine::ErrorKind::Malformed),
            "cut at {cut}: {e}"
        );
    }
}

#[test]
fn foreign_files_are_not_gguf() {
    let png = [&[0x89u8, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A][..], &[0u8; 2048]].concat();
    let e = load_err(&write("chart.png.gguf", &png));
    assert!(matches!(e, EngineError::NotGguf { .. }), "{e}");
    assert!(e.to_string().contains("PNG"), "{e}");
    let (_, mut bytes) = good();
    bytes[3] = b'X';
    assert!(matches!(load_err(&write("magic", &bytes)), EngineError::NotGguf { .. }));
    let e = load_err(&write("text", b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 4683073760\n"));
    assert!(matches!(e, EngineError::NotGguf { .. }), "{e}");
    let mut v = header(0, 0);
    v[4] = 99;
    assert!(matches!(load_err(&write("version", &v)), EngineError::Malformed(_)));
}

#[test]
fn absurd_counts_and_lengths_allocate_nothing() {
    for (name, bytes) in [
        ("tensors", header(u64::MAX, 0)),
        ("kvs", header(0, 1 << 61)),
        ("array", {
            let mut v = header(0, 1);
            v.extend(21u64.to_le_bytes());
            v.extend(b"tokenizer.ggml.tokens");
            v.extend(9u32.to_le_bytes());
            v.extend(8u32.to_le_bytes());
            v.extend((1u64 << 60).to_le_bytes());
            v
        }),
        ("string", {
            let mut v = header(0, 1);
            v.extend(u64::MAX.to_le_bytes());
            v
        }),
        ("dims", {
            let mut v = header(1, 0);
            v.extend(1u64.to_le_bytes());
            v.push(b'x');
            v.extend(2u32.to_le_bytes());
            v.extend(u64::MAX.to_le_bytes());
            v.extend(u64::MAX.to_le_bytes());
            v.extend(0u32.to_le_bytes());
            v.extend(0u64.to_le_bytes());
            v
        }),
    ] {
        let e = load_err(&write(name, &bytes));
        assert!(matches!(e.kind(), fin_r1_engine::ErrorKind::Truncated | fin_r1_engine::ErrorKind::Malformed), "{name}: {e}");
    }
}

/// A byte array the file really holds is still 32 bytes a value once decoded: 12 MB of bytes
/// must not become 384 MB in memory (a small download could once exhaust memory this way).
#[test]
fn a_huge_array_of_small_values_is_refused_before_it_is_decoded() {
    let count: u64 = 12 << 20;
    let mut v = header(0, 1);
    v.extend(15u64.to_le_bytes());
    v.extend(b"general.payload");
    v.extend(9u32.to_le_bytes());
    v.extend(0u32.to_le_bytes());
    v.extend(count.to_le_bytes());
    v.resize(v.len() + count as usize, 7);
    let e = load_err(&write("byte-array", &v));
    assert_eq!(e.kind(), "malformed", "{e}");
    assert!(e.to_string().contains("MiB in memory"), "{e}");
}

fn lying(name: &str, edits: &[(&str, Option<Value>)]) -> EngineError {
    let (src, _) = good();
    let out = scratch_dir().join(format!("lying-{name}.gguf"));
    rewrite_metadata(&src, &out, edits).expect("rewrite");
    load_err(&out)
}

#[test]
fn metadata_that_parses_but_lies_is_named() {
    let e = lying("zero-heads", &[("qwen2.attention.head_count", Some(Value::U32(0)))]);
    assert!(e.to_string().contains("qwen2.attention.head_count"), "{e}");
    let e = lying("kv-heads", &[("qwen2.attention.head_count_kv", Some(Value::U32(3)))]);
    assert!(e.to_string().contains("head_count_kv"), "{e}");
    let e = lying("no-layers", &[("qwen2.block_count", None)]);
    assert!(matches!(e, EngineError::MissingMetadata(ref k) if k == "qwen2.block_count"), "{e}");
    let e = lying("wrong-type", &[("qwen2.block_count", Some(Value::String("two".into())))]);
    assert!(e.to_string().contains("qwen2.block_count"), "{e}");
    let e = lying("eos", &[("tokenizer.ggml.eos_token_id", Some(Value::U32(10_000_000)))]);
    assert!(e.to_string().contains("eos_token_id"), "{e}");
    let e = lying("bos", &[("tokenizer.ggml.bos_token_id", Some(Value::U32(u32::MAX)))]);
    assert!(e.to_string().contains("bos_token_id"), "{e}");
    let e = lying("shape", &[("qwen2.embedding_length", Some(Value::U32(128)))]);
    assert!(matches!(e, EngineError::TensorShape { .. }), "{e}");
    let e = lying("layers", &[("qwen2.block_count", Some(Value::U32(3)))]);
    assert!(matches!(e, EngineError::MissingTensor(ref t) if t.starts_with("blk.2.")), "{e}");
    let e = lying("arch", &[("general.architecture", Some(Value::String("mamba".into())))]);
    assert!(matches!(e, EngineError::UnsupportedArchitecture(_)), "{e}");
    let e = lying("alignment", &[("general.alignment", Some(Value::U32(0)))]);
    assert!(e.to_string().contains("general.alignment"), "{e}");
    let e = lying("pre", &[("tokenizer.ggml.pre", Some(Value::String("klingon".into())))]);
    assert!(matches!(e, EngineError::Tokenizer(_)), "{e}");
    let e = lying("types", &[("tokenizer.ggml.token_type", Some(Value::Array(vec![Value::I32(1); 3])))]);
    assert!(e.to_string().contains("token_type"), "{e}");
    let e = lying("template", &[("tokenizer.chat_template", Some(Value::String("{% for %}".into())))]);
    assert!(matches!(e, EngineError::Template(_)), "{e}");
    let e = lying("context", &[("qwen2.context_length", Some(Value::U64(u64::MAX)))]);
    assert!(e.to_string().contains("context_length"), "{e}");
}

#[test]
fn a_missing_file_is_an_io_error() {
    let e = load_err(Path::new("/nonexistent/fin-r1.gguf"));
    assert_eq!(e.kind(), "io");
}
