//! Links the Dom0 kernel with its own `linker.ld` (physical address 1 MiB) when
//! built for bare metal; a host build gets the trivial host `main`.

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    if target == "x86_64-unknown-none" {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("linker.ld");
        println!("cargo:rustc-link-arg-bins=-T{}", script.display());
        println!("cargo:rerun-if-changed={}", script.display());
    }
}
