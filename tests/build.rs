//! Compiles the bench-only echo contract (tests/proto/echo.proto) for the load
//! generator. The public contracts are compiled by libs/proto.

use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("proto");
    let echo = root.join("echo.proto");
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure().compile_with_config(
        config,
        std::slice::from_ref(&echo),
        &[root],
    )?;
    println!("cargo:rerun-if-changed={}", echo.display());
    Ok(())
}
