//! Weights as the decoder uses them. On the CPU they stay in the memory-mapped file, used in
//! place by the quantized kernels: loading costs no read and no copy, the token embedding stays
//! quantized, and the page cache is shared with any other process reading the same file. On a
//! GPU they are uploaded through candle's quantized tensors.

use std::fs::File;
use std::sync::Arc;

use candle_core::quantized::{ggml_file::qtensor_from_ggml, QMatMul, QTensor};
use candle_core::{DType, Device, Module, Tensor};

use crate::error::{EngineError, Result};
use crate::gguf::{GgufFile, TensorInfo, TensorType};
use crate::kernels::sys::{map_file, Mmap};
use crate::kernels::{self, QInput, QWeight};

/// The model file, mapped read-only.
pub struct MappedFile {
    map: Mmap,
    data_offset: usize,
}

impl MappedFile {
    /// Maps a file whose header `g` has validated (every tensor lies inside the file).
    pub fn open(g: &GgufFile) -> Result<Arc<Self>> {
        let file = File::open(&g.path).map_err(|source| EngineError::Open { path: g.path.clone(), source })?;
        // Read-only; a model file is never rewritten in place (see `map_file`).
        let map = map_file(&file).map_err(|source| EngineError::Io { path: g.path.clone(), source })?;
        if (map.len() as u64) < g.file_size {
            return Err(EngineError::Truncated(format!("the file shrank to {} bytes while loading (expected {})", map.len(), g.file_size)));
        }
        Ok(Arc::new(Self { map, data_offset: g.data_offset as usize }))
    }

    fn bytes(&self, t: &TensorInfo) -> &[u8] {
        let start = self.data_offset + t.offset as usize;
        &self.map[start..start + t.n_bytes as usize]
    }
}

/// A 2-D weight `(rows, cols)` of the mapped file, `cols` being GGML's innermost dimension.
#[derive(Clone)]
pub struct Mapped {
    file: Arc<MappedFile>,
    info: TensorInfo,
    rows: usize,
    cols: usize,
}

impl Mapped {
    fn new(file: &Arc<MappedFile>, info: &TensorInfo) -> Result<Self> {
        let cols = info.dims[0] as usize;
        let rows = info.dims.iter().skip(1).product::<u64>() as usize;
        Ok(Self { file: file.clone(), info: info.clone(), rows, cols })
    }
    fn weight(&self) -> QWeight<'_> {
        QWeight { ttype: self.info.ttype, bytes: self.file.bytes(&self.info), rows: self.rows, cols: self.cols }
    }
}

/// A projection `y = x W^T`.
pub enum Linear {
    Mapped(Mapped),
    Candle(QMatMul),
}

impl Linear {
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Linear::Candle(m) => Ok(m.forward(x)?),
            Linear::Mapped(_) => Ok(Linear::forward_shared(&[self], x)?.remove(0)),
        }
    }

    /// Several projections of the same input (q/k/v, gate/up), quantizing the input once when
    /// their weight types read the same activation blocks.
    pub fn forward_shared(layers: &[&Linear], x: &Tensor) -> Result<Vec<Tensor>> {
        let dims = x.dims().to_vec();
        let Some((&cols, lead)) = dims.split_last() else {
            return Err(EngineError::Compute("projection of a scalar".into()));
        };
        let rows: usize = lead.iter().product();
        let mut flat: Option<Vec<f32>> = None;
        let mut input: Option<(TensorType, QInput)> = None;
        let mut outs = Vec::with_capacity(layers.len());
        for layer in layers {
            let m = match layer {
                Linear::Candle(q) => {
                    outs.push(q.forward(x)?);
                    continue;
                }
                Linear::Mapped(m) => m,
            };
            let t = m.info.ttype;
            if !input.as_ref().is_some_and(|(it, _)| kernels::same_input_kind(*it, t)) {
                if flat.is_none() {
                    flat = Some(x.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?);
                }
                let xs = flat.as_deref().unwrap_or_default();
                input = Some((t, kernels::quantize_input(t, xs, rows, cols).map_err(kernel_err)?));
            }
            let (_, q) = input.as_ref().ok_or_else(|| EngineError::Compute("no quantized input".into()))?;
            let mut out = vec![0f32; rows * m.rows];
            kernels::matmul(&m.weight(), q, &mut out).map_err(kernel_err)?;
            let mut shape = lead.to_vec();
            shape.push(m.rows);
            outs.push(Tensor::from_vec(out, shape, x.device())?);
        }
        Ok(outs)
    }
}

/// Token embeddings, looked up row by row without expanding the table.
pub enum Embedding {
    Mapped(Mapped),
    Candle(Arc<QTensor>),
}

impl Embedding {
    pub fn lookup(&self, tokens: &[u32], device: &Device) -> Result<Tensor> {
        match self {
            Embedding::Candle(t) => {
                let ids = Tensor::new(tokens, device)?;
                Ok(t.embedding(&ids)?.to_dtype(DType::F32)?)
            }
            Embedding::Mapped(m) => {
                let w = m.weight();
                let mut out = vec![0f32; tokens.len() * m.cols];
                for (&tok, row) in tokens.iter().zip(out.chunks_exact_mut(m.cols)) {
                    kernels::dequantize_row(&w, tok as usize, row).map_err(kernel_err)?;
                }
                Ok(Tensor::from_vec(out, (tokens.len(), m.cols), device)?)
            }
        }
    }
}

fn kernel_err(e: kernels::KernelError) -> EngineError {
    EngineError::Compute(e.to_string())
}

/// Builds the decoder's weights from a validated file, in place on the CPU, uploaded elsewhere.
pub struct WeightSource<'a> {
    g: &'a GgufFile,
    file: Arc<MappedFile>,
    device: &'a Device,
}

impl<'a> WeightSource<'a> {
    pub fn new(g: &'a GgufFile, device: &'a Device) -> Result<Self> {
        Ok(Self { g, file: MappedFile::open(g)?, device })
    }

    fn info(&self, name: &str) -> Result<&'a TensorInfo> {
        self.g.tensor(name).ok_or_else(|| EngineError::MissingTensor(name.into()))
    }

    fn in_place(&self, t: &TensorInfo) -> bool {
        self.device.is_cpu() && kernels::supported(t.ttype)
    }

    fn qtensor(&self, t: &TensorInfo) -> Result<QTensor> {
        let dims: Vec<usize> = t.dims.iter().rev().map(|&d| d as usize).collect();
        Ok(qtensor_from_ggml(t.ttype.to_candle(), self.file.bytes(t), dims, self.device)?)
    }

    pub fn linear(&self, name: &str) -> Result<Linear> {
        let t = self.info(name)?;
        if self.in_place(t) {
            return Ok(Linear::Mapped(Mapped::new(&self.file, t)?));
        }
        Ok(Linear::Candle(QMatMul::from_qtensor(self.qtensor(t)?)?))
    }

    pub fn embedding(&self, name: &str) -> Result<Embedding> {
        let t = self.info(name)?;
        if self.device.is_cpu() && (kernels::supported(t.ttype) || matches!(t.ttype, TensorType::F32 | TensorType::F16)) {
            return Ok(Embedding::Mapped(Mapped::new(&self.file, t)?));
        }
        Ok(Embedding::Candle(Arc::new(self.qtensor(t)?)))
    }

    /// The output projection when it shares the embedding table.
    pub fn tied_output(&self, name: &str) -> Result<Linear> {
        self.linear(name)
    }

    /// Small vectors (norms, biases) as dense f32 tensors.
    pub fn dense(&self, name: &str) -> Result<Tensor> {
        let t = self.info(name)?;
        Ok(self.qtensor(t)?.dequantize(self.device)?.to_dtype(DType::F32)?)
    }

    pub fn opt_dense(&self, name: &str) -> Result<Option<Tensor>> {
        match self.g.tensor(name) {
            Some(_) => self.dense(name).map(Some),
            None => Ok(None),
        }
    }
}
