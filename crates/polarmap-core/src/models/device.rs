//! Where networks run: a GPU through burn-wgpu when an adapter exists, else burn's pure-Rust CPU
//! backend (Flex). Chosen once per process: wgpu's runtime cannot be initialised twice.

use crate::error::{Error, Result};
use burn::tensor::{Device, DeviceKind};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// The user's choice (`--device auto|gpu|cpu`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// A GPU when one is found, else the CPU.
    #[default]
    Auto,
    /// A GPU; an error when there is none.
    Gpu,
    Cpu,
}

/// The GPU, found on first use (None when this machine has no GPU adapter).
fn gpu() -> Option<Device> {
    static GPU: OnceLock<Option<Device>> = OnceLock::new();
    GPU.get_or_init(|| {
        [DeviceKind::DiscreteGpu(0), DeviceKind::IntegratedGpu(0)]
            .into_iter()
            .find_map(|kind| Device::wgpu_options().device_kind(kind).init().ok())
    })
    .clone()
}

impl DeviceChoice {
    pub const ALL: [DeviceChoice; 3] = [Self::Auto, Self::Gpu, Self::Cpu];

    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Gpu => "gpu",
            Self::Cpu => "cpu",
        }
    }

    /// The burn device for this choice.
    pub fn device(self) -> Result<Device> {
        match self {
            DeviceChoice::Cpu => Ok(Device::flex()),
            DeviceChoice::Gpu => gpu().ok_or_else(|| {
                Error::invalid("no GPU adapter found (wgpu); use --device cpu or auto")
            }),
            DeviceChoice::Auto => Ok(gpu().unwrap_or_else(Device::flex)),
        }
    }

    /// "gpu" or "cpu": what [`DeviceChoice::device`] resolves to, for reports.
    pub fn resolved_name(self) -> &'static str {
        match self {
            DeviceChoice::Cpu => "cpu",
            DeviceChoice::Gpu => "gpu",
            DeviceChoice::Auto if gpu().is_some() => "gpu",
            DeviceChoice::Auto => "cpu",
        }
    }
}
