//! Compiles `proto/` with protox (a protobuf compiler in Rust), so building
//! needs no system `protoc`.
use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = [
        "portos/supervisor/v1/supervisor.proto",
        "portos/api/v1/api.proto",
        "portos/runner/v1/runner.proto",
        "portos/browser/v1/browser.proto",
        "portos/integrations/v1/integrations.proto",
        "portos/autofixer/v1/autofixer.proto",
        "portos/instances/v1/instances.proto",
        "portos/cos/v1/cos.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={}", root.join(f).display());
    }
    let fds = protox::compile(files, [&root])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    std::fs::write(
        out.join("portos_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}
