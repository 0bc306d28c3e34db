use crate::common;

#[test]
fn shared_testdata_is_present() {
    let dir = common::unzip_testdata("merlin/Merlin_navigation4x2_signalNx256_ROI.zip");
    let count = walk(dir.path());
    assert!(count > 0, "the zip extracted no files");
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p)
            } else {
                1
            }
        })
        .sum()
}
