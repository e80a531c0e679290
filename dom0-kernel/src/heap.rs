//! Dom0's heap: the toolstack keeps configs, names and lists in it, the
//! xenstored its tree, the domain builder a decompressed kernel (Debian's
//! Linux: a 63 MiB ELF and a 32 MiB xz dictionary). The allocator is
//! guest-rt's; the arena is all of Dom0's highest RAM range below 4 GiB
//! (what the boot page tables map) above everything the hypervisor loaded
//! there, so Dom0's `dom0_mem=` sizes it. A static arena would stretch this
//! kernel's image across the firmware ranges some machines keep low down
//! (OVMF's ACPI NVS at 8 MiB), where Dom0 has no RAM.

use abi::hvm::start_info::XEN_HVM_MEMMAP_TYPE_RAM;
use guest_rt::start_info::StartInfo;

/// The least heap Dom0 runs with (its own toolstack and xenstored).
const HEAP_MIN: u64 = 8 << 20;
const MAPPED_END: u64 = 1 << 32;
/// Room the hypervisor's start info may take after the last module.
const START_INFO_ROOM: u64 = 64 << 10;

unsafe extern "C" {
    /// The end of this kernel's image, bss included (guest-rt's linker.ld).
    static __bss_end: u8;
}

/// Hands the arena to the allocator; call once, before any allocation.
/// Returns its size; panics (with what is missing) if Dom0 has no room for
/// [`HEAP_MIN`].
pub fn init(si: &StartInfo, start_info_paddr: u64) -> u64 {
    let mut used = (&raw const __bss_end) as u64;
    for i in 0..si.info.nr_modules {
        if let Some(m) = si.module(i) {
            used = used.max(m.data.as_ptr() as u64 + m.data.len() as u64);
        }
    }
    used = used.max(start_info_paddr + START_INFO_ROOM);
    let (start, top) = si
        .memmap()
        .iter()
        .filter(|e| e.r#type == XEN_HVM_MEMMAP_TYPE_RAM && e.addr < MAPPED_END)
        .map(|e| (e.addr.max(used).next_multiple_of(0x1000), e.addr.saturating_add(e.size).min(MAPPED_END) & !0xfff))
        .filter(|&(start, end)| end >= start + HEAP_MIN)
        .max_by_key(|&(_, end)| end)
        .unwrap_or_else(|| panic!("dom0: no {} MiB of RAM above {used:#x} below 4 GiB for the heap: give Dom0 more memory (dom0_mem=)", HEAP_MIN >> 20));
    let size = top - start;
    // SAFETY: [start, top) is Dom0 RAM (its memory map says so) that the boot page tables map, above this kernel, its modules and start info, so nothing else uses it; it is handed out once, for ever.
    let arena = unsafe { core::slice::from_raw_parts_mut(start as *mut u8, usize::try_from(size).unwrap_or(0)) };
    guest_rt::heap::init(arena);
    size
}
