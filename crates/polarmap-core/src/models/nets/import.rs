//! Starting a network from PyTorch weights (a torchvision state dict, or the paper's own CNN):
//! burn-store's PyTorch reader reads the file, keys are mapped from torchvision's names onto the
//! encoder's, and a 3-channel (RGB) first convolution is summed over its channels, the usual way
//! of giving an ImageNet network a 1-channel input.

use super::encoders::vgg16_torchvision_indices;
use super::Network;
use crate::error::{Error, Result};
use burn::store::{bridge, ModuleSnapshot, ModuleStore, PyTorchToBurnAdapter, PytorchStore};
use burn::tensor::TensorData;
use std::path::Path;

/// Parameter paths of each encoder's first convolution (after the `encoder.` prefix).
const FIRST_CONVS: [&str; 2] = ["encoder.features.0.weight", "encoder.conv1.weight"];

/// What an import applied and left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// Parameters taken from the file.
    pub applied: Vec<String>,
    /// Parameters of the network the file does not hold (they keep their initialisation).
    pub missing: Vec<String>,
    /// Tensors of the file the network has no place for (e.g. torchvision's classifier).
    pub unused: Vec<String>,
}

/// `net` with the weights of the PyTorch file at `path` loaded into it. Keys are torchvision's
/// (VGG16's `features.N` with torchvision's indices 0, 2, 5, 7, 10, ...; ResNet50's `conv1`,
/// `bn1`, `layerK.N.convM`, `layerK.N.bnM`, `downsample.0|1`), or the paper CNN's (`conv1..3`,
/// `fc`), with or without an `encoder.` prefix. A file that matches no parameter,
/// or whose shapes do not fit, is an error naming it.
pub fn load_pytorch(mut net: Network, path: &Path) -> Result<(Network, Imported)> {
    let mut store = PytorchStore::from_file(path)
        .with_key_remapping(r"^(?:module\.)?(?:encoder\.)?", "encoder.")
        .with_key_remapping(r"\.downsample\.0\.", ".downsample.conv.")
        .with_key_remapping(r"\.downsample\.1\.", ".downsample.bn.");
    // torchvision's VGG16 `features` is one Sequential of convs, ReLUs and max-pools, so its
    // convs sit at 0, 2, 5, 7, 10, ...; the encoder holds the 13 convs alone, at 0..12. The
    // remappings apply in turn to each key, so they go in ascending order: a key renamed to n
    // never meets the rule for torchvision index n (which came earlier, as n < its source).
    for (ours, theirs) in vgg16_torchvision_indices().into_iter().enumerate() {
        if ours != theirs {
            store = store.with_key_remapping(
                format!(r"^encoder\.features\.{theirs}\."),
                format!("encoder.features.{ours}."),
            );
        }
    }
    let tensors = store
        .get_all_tensors()
        .map_err(|e| Error::format(path, format!("not a readable PyTorch weight file: {e}")))?
        .values()
        .cloned()
        .map(|t| {
            if FIRST_CONVS.contains(&t.name.as_str()) && t.shape.len() == 4 && t.shape[1] == 3 {
                grey_first_conv(&t).map_err(|e| Error::format(path, e))
            } else {
                Ok(t)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let result = net.apply(tensors, None, Some(Box::new(PyTorchToBurnAdapter)), true);
    if !result.errors.is_empty() {
        return Err(Error::format(
            path,
            format!("weights do not fit the network:\n{result}"),
        ));
    }
    if result.applied.is_empty() {
        return Err(Error::format(
            path,
            "holds no weights of this network (torchvision names expected)",
        ));
    }
    let imported = Imported {
        applied: result.applied,
        missing: result.missing.into_iter().map(|(p, _)| p).collect(),
        unused: result.unused,
    };
    Ok((net, imported))
}

/// A `[out, 3, k, k]` convolution kernel summed over its input channels to `[out, 1, k, k]`: on
/// a grey image (R = G = B) the summed kernel gives exactly what the RGB one gave.
fn grey_first_conv(
    tensor: &burn::store::burn_pack::Tensor,
) -> std::result::Result<burn::store::burn_pack::Tensor, String> {
    let data = bridge::to_data(tensor).map_err(|e| format!("{}: {e}", tensor.name))?;
    let values: Vec<f32> = data
        .try_into_vec_as::<f32>()
        .map_err(|e| format!("{}: {e:?}", tensor.name))?;
    let [out, channels, kh, kw] = [
        tensor.shape[0],
        tensor.shape[1],
        tensor.shape[2],
        tensor.shape[3],
    ];
    let plane = kh * kw;
    let mut summed = vec![0f32; out * plane];
    for o in 0..out {
        for c in 0..channels {
            let from = (o * channels + c) * plane;
            for (s, v) in summed[o * plane..(o + 1) * plane]
                .iter_mut()
                .zip(&values[from..from + plane])
            {
                *s += v;
            }
        }
    }
    Ok(bridge::from_data(
        TensorData::new(summed, [out, 1, kh, kw]),
        tensor.name.clone(),
        tensor.param_id,
    ))
}
