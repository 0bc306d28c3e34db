//! Where networks run: a GPU through burn-wgpu, or burn's pure-Rust CPU backend (Flex).
//!
//! - `auto`: a hardware GPU adapter (discrete, integrated, virtual) when there is one, else the
//!   CPU backend, with a note saying so. A software adapter (Mesa's lavapipe, a Vulkan driver
//!   that runs on the CPU) is never picked by `auto`: the CPU backend is faster.
//! - `gpu`: a hardware adapter, else a software one (so the wgpu path runs, e.g. in CI on
//!   lavapipe); an error naming what to install when there is neither.
//! - `cpu`: the CPU backend.
//!
//! [`DeviceChoice::place`] decides from the adapters found (a pure function, tested on any
//! list); [`DeviceChoice::resolve`] probes this machine's adapters once per process and brings
//! the chosen one up once (wgpu's runtime cannot be initialised twice).

use crate::error::{Error, Result};
use burn::tensor::{Device, DeviceKind, DeviceType};
use serde::{Deserialize, Serialize};
use std::sync::{Mutex, OnceLock};

/// The user's choice (`--device auto|gpu|cpu`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// A hardware GPU when one is found, else the CPU backend.
    #[default]
    Auto,
    /// A GPU adapter, hardware or else software (lavapipe); an error when there is none.
    Gpu,
    Cpu,
}

/// A kind of wgpu adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdapterKind {
    Discrete,
    Integrated,
    Virtual,
    /// A driver that runs on the CPU (Mesa's lavapipe or llvmpipe, WARP).
    Software,
}

impl AdapterKind {
    /// Best first: the order in which they are preferred.
    pub const ALL: [AdapterKind; 4] = [
        Self::Discrete,
        Self::Integrated,
        Self::Virtual,
        Self::Software,
    ];

    pub fn is_hardware(self) -> bool {
        self != Self::Software
    }

    pub fn describe(self) -> &'static str {
        match self {
            Self::Discrete => "discrete GPU",
            Self::Integrated => "integrated GPU",
            Self::Virtual => "virtual GPU",
            Self::Software => "software adapter",
        }
    }

    fn device_kind(self) -> DeviceKind {
        match self {
            Self::Discrete => DeviceKind::DiscreteGpu(0),
            Self::Integrated => DeviceKind::IntegratedGpu(0),
            Self::Virtual => DeviceKind::VirtualGpu(0),
            Self::Software => DeviceKind::Cpu,
        }
    }
}

/// Where a [`DeviceChoice`] runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// burn-wgpu on an adapter of this kind.
    Wgpu(AdapterKind),
    /// burn's CPU backend; `note` says why when the user did not ask for it.
    Cpu { note: Option<String> },
}

/// A choice brought up on this machine.
#[derive(Debug, Clone)]
pub struct ResolvedDevice {
    pub device: Device,
    pub placement: Placement,
    /// For reports: "gpu: NAME (discrete GPU)", "gpu: llvmpipe ... (software adapter)", "cpu",
    /// "cpu (no GPU adapter found ...)".
    pub description: String,
}

/// What `--device gpu` says when this machine has no adapter at all.
pub const NO_ADAPTER: &str = "no GPU adapter found (wgpu found no Vulkan, Metal, DX12 or GL \
    adapter; on Linux without a GPU, Mesa's lavapipe is one: Debian/Ubuntu package \
    mesa-vulkan-drivers); use --device cpu or auto";

impl DeviceChoice {
    pub const ALL: [DeviceChoice; 3] = [Self::Auto, Self::Gpu, Self::Cpu];

    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Gpu => "gpu",
            Self::Cpu => "cpu",
        }
    }

    /// Where this choice runs on a machine with the adapters `found`.
    pub fn place(self, found: &[AdapterKind]) -> Result<Placement> {
        let best = |hardware_only: bool| {
            AdapterKind::ALL
                .into_iter()
                .filter(|k| k.is_hardware() || !hardware_only)
                .find(|k| found.contains(k))
        };
        match self {
            DeviceChoice::Cpu => Ok(Placement::Cpu { note: None }),
            DeviceChoice::Auto => Ok(match best(true) {
                Some(kind) => Placement::Wgpu(kind),
                None if found.contains(&AdapterKind::Software) => Placement::Cpu {
                    note: Some(
                        "no GPU adapter found, only a software one (--device gpu uses it); \
                         running on the CPU backend"
                            .into(),
                    ),
                },
                None => Placement::Cpu {
                    note: Some("no GPU adapter found; running on the CPU backend".into()),
                },
            }),
            DeviceChoice::Gpu => best(false)
                .map(Placement::Wgpu)
                .ok_or_else(|| Error::invalid(NO_ADAPTER)),
        }
    }

    /// Brings this choice up: probes the adapters (once per process), initialises the chosen
    /// one (once per process). `auto` falling back to the CPU says so on stderr, once.
    pub fn resolve(self) -> Result<ResolvedDevice> {
        let found = if self == DeviceChoice::Cpu {
            Vec::new()
        } else {
            adapters().to_vec()
        };
        let mut placement = self.place(&found)?;
        let device = match &placement {
            Placement::Cpu { .. } => Device::flex(),
            Placement::Wgpu(kind) => match (init_wgpu(*kind), self) {
                (Ok(device), _) => device,
                (Err(e), DeviceChoice::Auto) => {
                    placement = Placement::Cpu {
                        note: Some(format!(
                            "the {} did not start ({e}); running on the CPU backend",
                            kind.describe()
                        )),
                    };
                    Device::flex()
                }
                (Err(e), _) => {
                    return Err(Error::invalid(format!(
                        "the {} did not start: {e}",
                        kind.describe()
                    )))
                }
            },
        };
        let description = match &placement {
            Placement::Cpu { note: None } => "cpu".to_string(),
            Placement::Cpu { note: Some(note) } => {
                static SAID: std::sync::Once = std::sync::Once::new();
                SAID.call_once(|| eprintln!("polarmap: --device auto: {note}"));
                format!("cpu ({note})")
            }
            Placement::Wgpu(kind) => match device.identity() {
                Some(id) => format!("gpu: {} ({})", id.name, kind.describe()),
                None => format!("gpu ({})", kind.describe()),
            },
        };
        Ok(ResolvedDevice {
            device,
            placement,
            description,
        })
    }

    /// The burn device for this choice.
    pub fn device(self) -> Result<Device> {
        self.resolve().map(|r| r.device)
    }

    /// "gpu" or "cpu": what [`DeviceChoice::device`] resolves to, for reports and model cards
    /// ([`DeviceChoice::resolve`] has the whole description).
    pub fn resolved_name(self) -> &'static str {
        match self.resolve().map(|r| r.placement) {
            Ok(Placement::Wgpu(_)) => "gpu",
            Ok(Placement::Cpu { .. }) => "cpu",
            // `gpu` with no adapter: the run itself reports the error.
            Err(_) => self.name(),
        }
    }
}

/// The kinds of wgpu adapter this machine has (probed once; no runtime is initialised).
pub fn adapters() -> &'static [AdapterKind] {
    static FOUND: OnceLock<Vec<AdapterKind>> = OnceLock::new();
    FOUND.get_or_init(|| {
        let devices: Vec<Device> = Device::enumerate(DeviceType::Wgpu).into_iter().collect();
        AdapterKind::ALL
            .into_iter()
            .filter(|kind| devices.contains(&Device::wgpu(kind.device_kind())))
            .collect()
    })
}

/// The wgpu device on the first adapter of `kind`, initialised on first use and kept.
fn init_wgpu(kind: AdapterKind) -> std::result::Result<Device, String> {
    static STARTED: Mutex<Vec<(AdapterKind, std::result::Result<Device, String>)>> =
        Mutex::new(Vec::new());
    let mut started = STARTED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, done)) = started.iter().find(|(k, _)| *k == kind) {
        return done.clone();
    }
    let result = Device::wgpu_options()
        .device_kind(kind.device_kind())
        .init()
        .map_err(|e| e.to_string());
    started.push((kind, result.clone()));
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use AdapterKind::*;

    #[test]
    fn auto_takes_hardware_only_and_gpu_takes_software_too() {
        let cpu_note = |p: Placement| match p {
            Placement::Cpu { note } => note,
            other => panic!("{other:?}"),
        };
        for found in [&[][..], &[Software][..]] {
            let note = cpu_note(DeviceChoice::Auto.place(found).unwrap()).unwrap();
            assert!(note.contains("no GPU adapter found"), "{note}");
        }
        assert_eq!(
            DeviceChoice::Auto.place(&[Software, Integrated]).unwrap(),
            Placement::Wgpu(Integrated)
        );
        assert_eq!(
            DeviceChoice::Auto.place(&[Integrated, Discrete]).unwrap(),
            Placement::Wgpu(Discrete)
        );
        assert_eq!(
            DeviceChoice::Gpu.place(&[Software]).unwrap(),
            Placement::Wgpu(Software)
        );
        assert_eq!(
            DeviceChoice::Gpu.place(&[Software, Virtual]).unwrap(),
            Placement::Wgpu(Virtual)
        );
        let e = DeviceChoice::Gpu.place(&[]).unwrap_err().to_string();
        assert!(
            e.contains("no GPU adapter") && e.contains("mesa-vulkan-drivers"),
            "{e}"
        );
        assert_eq!(
            DeviceChoice::Cpu.place(&[Discrete]).unwrap(),
            Placement::Cpu { note: None }
        );
    }
}
