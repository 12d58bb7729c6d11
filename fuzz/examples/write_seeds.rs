//! Writes each target's hand-written seeds (`ringbridge::fuzz_targets`) into
//! `fuzz/corpus/<target>/`, the corpus directory `cargo fuzz run` uses.

use std::path::PathBuf;

use ringbridge::fuzz_targets::Target;

fn main() -> std::io::Result<()> {
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for target in Target::ALL {
        let dir = corpus.join(target.name());
        std::fs::create_dir_all(&dir)?;
        let seeds = target.seeds();
        for (i, seed) in seeds.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i:02}")), seed)?;
        }
        println!("{}: {} seeds in {}", target.name(), seeds.len(), dir.display());
    }
    Ok(())
}
