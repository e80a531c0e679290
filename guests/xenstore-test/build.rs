//! Links the xenstore-test kernel with guest-rt's shared `linker.ld` when built
//! for bare metal; a host build gets the trivial host `main`.

fn main() {
    if std::env::var("TARGET").unwrap_or_default() == "x86_64-unknown-none" {
        let script = std::env::var("DEP_GUEST_RT_LINKER_SCRIPT")
            .expect("guest-rt's build script names its linker script");
        println!("cargo:rustc-link-arg-bins=-T{script}");
        println!("cargo:rerun-if-env-changed=DEP_GUEST_RT_LINKER_SCRIPT");
    }
}
