//! Hands the shared linker script's path to the kernels that link with it:
//! their build scripts read it from `DEP_GUEST_RT_LINKER_SCRIPT` and pass it
//! to the linker with `-T` (see `guest_rt::link` in the crate docs).

fn main() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("linker.ld");
    println!("cargo::metadata=linker_script={}", script.display());
    println!("cargo::rerun-if-changed={}", script.display());
}
