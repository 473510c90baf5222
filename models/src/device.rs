use std::str::FromStr;

use candle_core::Device;

use crate::error::{EngineError, Result};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    #[default]
    Cpu,
    Cuda,
    Metal,
}

impl FromStr for DeviceChoice {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda),
            "metal" => Ok(Self::Metal),
            other => Err(format!("unknown device {other:?} (cpu, cuda or metal)")),
        }
    }
}

impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl DeviceChoice {
    /// The devices this build can run on (CUDA and Metal are build features).
    pub fn built() -> Vec<Self> {
        let mut d = vec![Self::Cpu];
        if cfg!(feature = "cuda") {
            d.push(Self::Cuda);
        }
        if cfg!(feature = "metal") {
            d.push(Self::Metal);
        }
        d
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
            Self::Metal => "metal",
        }
    }

    pub fn open(self) -> Result<Device> {
        let unavailable = |reason: String| EngineError::DeviceUnavailable { device: self.as_str().into(), reason };
        match self {
            Self::Cpu => Ok(Device::Cpu),
            Self::Cuda if !cfg!(feature = "cuda") => Err(unavailable("this build has no CUDA support (build with --features cuda)".into())),
            Self::Metal if !cfg!(feature = "metal") => Err(unavailable("this build has no Metal support (build with --features metal)".into())),
            Self::Cuda => Device::new_cuda(0).map_err(|e| unavailable(e.to_string())),
            Self::Metal => Device::new_metal(0).map_err(|e| unavailable(e.to_string())),
        }
    }
}
