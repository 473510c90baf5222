//! A strict reader of GGUF headers. It is ours rather than candle's so that every count, length
//! and offset a file declares is checked against the file's real size before anything is
//! allocated, and every failure is a typed error rather than a panic (candle divides by a zero
//! `general.alignment`, for one).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::{EngineError, Result};

const MAGIC: &[u8; 4] = b"GGUF";
const MAX_TENSOR_DIMS: u32 = 4;
const MAX_ARRAY_DEPTH: usize = 2;
/// What the decoded metadata may take in memory. A value in memory is `size_of::<MetaValue>()`
/// (32) bytes however small it is in the file, so checking counts against the file alone let a
/// 100 MB array of bytes become 3.2 GB. A real model's header (a 152k-token vocabulary and its
/// merges) decodes to about 15 MB.
pub const MAX_METADATA_MEMORY: u64 = 256 << 20;
const DEFAULT_ALIGNMENT: u64 = 32;

#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    U64(u64),
    I64(i64),
    F32(f32),
    F64(f64),
    Bool(bool),
    String(String),
    Array(Vec<MetaValue>),
}

impl MetaValue {
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Self::U8(v) => Some(v.into()),
            Self::U16(v) => Some(v.into()),
            Self::U32(v) => Some(v.into()),
            Self::U64(v) => Some(v),
            Self::I8(v) => u64::try_from(v).ok(),
            Self::I16(v) => u64::try_from(v).ok(),
            Self::I32(v) => u64::try_from(v).ok(),
            Self::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Self::I8(v) => Some(v.into()),
            Self::I16(v) => Some(v.into()),
            Self::I32(v) => Some(v.into()),
            Self::I64(v) => Some(v),
            _ => self.as_u64().and_then(|v| i64::try_from(v).ok()),
        }
    }
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Self::F32(v) => Some(v.into()),
            Self::F64(v) => Some(v),
            _ => self.as_i64().map(|v| v as f64),
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Self::Bool(b) => Some(b),
            _ => None,
        }
    }
    pub fn as_array(&self) -> Option<&[MetaValue]> {
        match self {
            Self::Array(v) => Some(v),
            _ => None,
        }
    }
    fn type_name(&self) -> &'static str {
        match self {
            Self::U8(_) => "u8",
            Self::I8(_) => "i8",
            Self::U16(_) => "u16",
            Self::I16(_) => "i16",
            Self::U32(_) => "u32",
            Self::I32(_) => "i32",
            Self::U64(_) => "u64",
            Self::I64(_) => "i64",
            Self::F32(_) => "f32",
            Self::F64(_) => "f64",
            Self::Bool(_) => "bool",
            Self::String(_) => "string",
            Self::Array(_) => "array",
        }
    }
}

/// GGML tensor types (the kernels' own: they are what the kernels dispatch on).
pub use fin_r1_kernels::TensorType;

#[derive(Debug, Clone)]
pub struct TensorInfo {
    pub name: String,
    /// GGML order: `dims[0]` is the innermost (row length).
    pub dims: Vec<u64>,
    pub ttype: TensorType,
    /// Offset of the data from the start of the data section.
    pub offset: u64,
    pub n_bytes: u64,
}

impl TensorInfo {
    pub fn n_elements(&self) -> u64 {
        self.dims.iter().product()
    }
}

#[derive(Debug, Clone)]
pub struct GgufFile {
    pub path: PathBuf,
    pub version: u32,
    pub metadata: BTreeMap<String, MetaValue>,
    pub tensors: Vec<TensorInfo>,
    pub data_offset: u64,
    pub file_size: u64,
}

/// Counts the bytes consumed so that every length can be checked against what is left.
struct Cursor<R> {
    inner: R,
    pos: u64,
    size: u64,
    version: u32,
    /// Bytes the decoded metadata takes in memory so far (see `MAX_METADATA_MEMORY`).
    decoded: u64,
}

impl<R: Read> Cursor<R> {
    fn remaining(&self) -> u64 {
        self.size.saturating_sub(self.pos)
    }
    fn bytes(&mut self, n: u64, what: &str) -> Result<Vec<u8>> {
        if n > self.remaining() {
            return Err(EngineError::Truncated(format!("{what} needs {n} bytes at offset {}, the file has {} left", self.pos, self.remaining())));
        }
        let mut buf = vec![0u8; n as usize];
        self.inner.read_exact(&mut buf).map_err(|e| EngineError::Truncated(format!("reading {what} at offset {}: {e}", self.pos)))?;
        self.pos += n;
        Ok(buf)
    }
    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let v = self.bytes(N as u64, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(&v);
        Ok(a)
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    /// Lengths and counts are 32-bit in GGUF v1, 64-bit afterwards.
    fn len(&mut self, what: &str) -> Result<u64> {
        if self.version == 1 {
            self.u32(what).map(u64::from)
        } else {
            self.u64(what)
        }
    }
    /// Counts `n` bytes of decoded metadata against the budget, before they are allocated.
    fn charge(&mut self, n: u64, what: &str) -> Result<()> {
        self.decoded = self.decoded.saturating_add(n);
        if self.decoded > MAX_METADATA_MEMORY {
            return Err(EngineError::Malformed(format!(
                "metadata {what:?} would take more than {} MiB in memory (a real model's takes about 15)",
                MAX_METADATA_MEMORY >> 20
            )));
        }
        Ok(())
    }
    fn string(&mut self, what: &str) -> Result<String> {
        let n = self.len(what)?;
        if n <= self.remaining() {
            self.charge(n, what)?;
        }
        let bytes = self.bytes(n, what)?;
        String::from_utf8(bytes).map_err(|_| EngineError::Malformed(format!("{what} is not valid UTF-8")))
    }
    fn value(&mut self, type_id: u32, key: &str, depth: usize) -> Result<MetaValue> {
        Ok(match type_id {
            0 => MetaValue::U8(self.array::<1>(key)?[0]),
            1 => MetaValue::I8(self.array::<1>(key)?[0] as i8),
            2 => MetaValue::U16(u16::from_le_bytes(self.array(key)?)),
            3 => MetaValue::I16(i16::from_le_bytes(self.array(key)?)),
            4 => MetaValue::U32(u32::from_le_bytes(self.array(key)?)),
            5 => MetaValue::I32(i32::from_le_bytes(self.array(key)?)),
            6 => MetaValue::F32(f32::from_le_bytes(self.array(key)?)),
            7 => match self.array::<1>(key)?[0] {
                0 => MetaValue::Bool(false),
                1 => MetaValue::Bool(true),
                b => return Err(EngineError::Malformed(format!("metadata {key:?}: boolean byte {b}"))),
            },
            8 => MetaValue::String(self.string(key)?),
            9 => {
                if depth >= MAX_ARRAY_DEPTH {
                    return Err(EngineError::Malformed(format!("metadata {key:?}: arrays nested deeper than {MAX_ARRAY_DEPTH}")));
                }
                let elem_type = self.u32(key)?;
                let count = self.len(key)?;
                let min_size = match elem_type {
                    0 | 1 | 7 => 1,
                    2 | 3 => 2,
                    4..=6 => 4,
                    10..=12 => 8,
                    8 => {
                        if self.version == 1 {
                            4
                        } else {
                            8
                        }
                    }
                    9 => 12,
                    t => return Err(EngineError::Malformed(format!("metadata {key:?}: unknown array element type {t}"))),
                };
                // Checked before allocating: a lying count cannot make us reserve memory the
                // file could never fill.
                if count.saturating_mul(min_size) > self.remaining() {
                    return Err(EngineError::Truncated(format!("metadata {key:?} declares {count} array elements, more than the file holds")));
                }
                self.charge(count.saturating_mul(std::mem::size_of::<MetaValue>() as u64), key)?;
                let mut out = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    out.push(self.value(elem_type, key, depth + 1)?);
                }
                MetaValue::Array(out)
            }
            10 => MetaValue::U64(u64::from_le_bytes(self.array(key)?)),
            11 => MetaValue::I64(i64::from_le_bytes(self.array(key)?)),
            12 => MetaValue::F64(f64::from_le_bytes(self.array(key)?)),
            t => return Err(EngineError::Malformed(format!("metadata {key:?}: unknown value type {t}"))),
        })
    }
}

impl GgufFile {
    /// Reads and checks the header: metadata, tensor table, and that every tensor's bytes lie
    /// inside the file. Tensor data is not read.
    pub fn open(path: &Path) -> Result<Self> {
        Self::parse(path, true)
    }

    /// Reads the header of a file whose tensor data may be missing (the first part of a split
    /// download): metadata and tensor table are checked, tensor bounds are not.
    pub fn open_header_only(path: &Path) -> Result<Self> {
        Self::parse(path, false)
    }

    fn parse(path: &Path, check_data: bool) -> Result<Self> {
        let file = File::open(path).map_err(|source| EngineError::Open { path: path.to_owned(), source })?;
        let size = file.metadata().map_err(|source| EngineError::Open { path: path.to_owned(), source })?.len();
        let mut c = Cursor { inner: BufReader::with_capacity(1 << 20, file), pos: 0, size, version: 3, decoded: 0 };

        if size < 4 {
            return Err(EngineError::NotGguf { found: format!("{size} bytes") });
        }
        let magic = c.array::<4>("magic")?;
        if &magic != MAGIC {
            return Err(EngineError::NotGguf { found: printable(&magic) });
        }
        let version = c.u32("version")?;
        if !(1..=3).contains(&version) {
            return Err(EngineError::Malformed(format!("unsupported GGUF version {version}")));
        }
        c.version = version;
        let n_tensors = c.len("tensor count")?;
        let n_kv = c.len("metadata count")?;
        // Smallest possible entries: a kv is a length, a type and one byte; a tensor info a
        // name length, a dimension count, a type and an offset.
        let prefix = if version == 1 { 4 } else { 8 };
        let needed = n_kv.saturating_mul(prefix + 5).saturating_add(n_tensors.saturating_mul(prefix + 16));
        if needed > c.remaining() {
            return Err(EngineError::Truncated(format!("header declares {n_tensors} tensors and {n_kv} metadata entries, more than the file holds")));
        }

        let mut metadata = BTreeMap::new();
        for _ in 0..n_kv {
            let key = c.string("metadata key")?;
            let type_id = c.u32(&key)?;
            let value = c.value(type_id, &key, 0)?;
            metadata.insert(key, value);
        }

        let mut tensors = Vec::with_capacity(n_tensors as usize);
        for _ in 0..n_tensors {
            let name = c.string("tensor name")?;
            let n_dims = c.u32(&name)?;
            if n_dims == 0 || n_dims > MAX_TENSOR_DIMS {
                return Err(EngineError::Malformed(format!("tensor {name:?} has {n_dims} dimensions (1 to {MAX_TENSOR_DIMS} allowed)")));
            }
            let mut dims = Vec::with_capacity(n_dims as usize);
            for _ in 0..n_dims {
                let d = c.len(&name)?;
                if d == 0 {
                    return Err(EngineError::Malformed(format!("tensor {name:?} has a zero dimension")));
                }
                dims.push(d);
            }
            let type_id = c.u32(&name)?;
            let ttype = TensorType::from_id(type_id).ok_or_else(|| EngineError::UnsupportedTensorType { tensor: name.clone(), type_id })?;
            let offset = c.u64(&name)?;
            let n_elems = dims
                .iter()
                .try_fold(1u64, |acc, &d| acc.checked_mul(d))
                .ok_or_else(|| EngineError::Malformed(format!("tensor {name:?}: element count overflows")))?;
            let (block_elems, block_bytes) = ttype.block();
            if dims[0] % block_elems != 0 {
                return Err(EngineError::Malformed(format!(
                    "tensor {name:?}: row length {} is not a multiple of the {} block size {block_elems}",
                    dims[0],
                    ttype.name()
                )));
            }
            let n_bytes =
                (n_elems / block_elems).checked_mul(block_bytes).ok_or_else(|| EngineError::Malformed(format!("tensor {name:?}: byte size overflows")))?;
            tensors.push(TensorInfo { name, dims, ttype, offset, n_bytes });
        }

        let alignment = match metadata.get("general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some(v) => match v.as_u64() {
                Some(a) if a > 0 && a.is_power_of_two() && a <= 1 << 20 => a,
                _ => return Err(EngineError::InvalidMetadata { key: "general.alignment".into(), problem: format!("{v:?} is not a power of two") }),
            },
        };
        let data_offset = c.pos.div_ceil(alignment) * alignment;
        let data_len = size.saturating_sub(data_offset);
        for t in tensors.iter().filter(|_| check_data) {
            let end = t.offset.checked_add(t.n_bytes);
            if t.offset % alignment != 0 {
                return Err(EngineError::Malformed(format!("tensor {:?}: offset {} is not aligned to {alignment}", t.name, t.offset)));
            }
            match end {
                Some(end) if end <= data_len => {}
                _ => {
                    return Err(EngineError::Truncated(format!(
                        "tensor {:?} ends at byte {} of the data section, which holds {data_len} bytes",
                        t.name,
                        t.offset.saturating_add(t.n_bytes)
                    )))
                }
            }
        }
        Ok(Self { path: path.to_owned(), version, metadata, tensors, data_offset, file_size: size })
    }

    pub fn get(&self, key: &str) -> Option<&MetaValue> {
        self.metadata.get(key)
    }

    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(MetaValue::as_str)
    }

    /// A required unsigned integer, named in the error when absent or of the wrong kind.
    pub fn require_u64(&self, key: &str) -> Result<u64> {
        let v = self.get(key).ok_or_else(|| EngineError::MissingMetadata(key.to_owned()))?;
        v.as_u64()
            .ok_or_else(|| EngineError::InvalidMetadata { key: key.to_owned(), problem: format!("expected an unsigned integer, found {}", v.type_name()) })
    }

    pub fn opt_u64(&self, key: &str) -> Result<Option<u64>> {
        match self.get(key) {
            None => Ok(None),
            Some(_) => self.require_u64(key).map(Some),
        }
    }

    pub fn opt_f64(&self, key: &str) -> Result<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| EngineError::InvalidMetadata { key: key.to_owned(), problem: format!("expected a number, found {}", v.type_name()) }),
        }
    }
}

fn printable(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| if b.is_ascii_graphic() { (b as char).to_string() } else { format!("\\x{b:02x}") }).collect()
}
