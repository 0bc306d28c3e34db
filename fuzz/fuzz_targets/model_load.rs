//! The model file through the real loading path (`models::load` on the CPU: header, backend
//! settings, PCA + kNN arrays or burn weights), then one prediction when it loads.
#![no_main]
use libfuzzer_sys::fuzz_target;
use polarmap_core::models::{self, DeviceChoice};

fuzz_target!(|data: &[u8]| {
    let dir = polarmap_fuzz::workdir("model_load");
    let path = polarmap_fuzz::write(dir, "model.pmm", data);
    let Ok(model) = models::load(&path, DeviceChoice::Cpu) else {
        return;
    };
    // One input of zeros: the big networks are slow on a CPU, so only a small input is run.
    let size = model.input().size;
    if size <= 64 {
        let batch = ndarray::Array2::<f32>::zeros((1, size * size));
        if let Ok(predictions) = model.predict(batch.view()) {
            assert_eq!(predictions.len(), 1);
        }
    }
});
