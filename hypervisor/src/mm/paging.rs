//! The hypervisor's own page tables: its image mapped W^X from the linker
//! script's symbols, the physical-memory window (NX), the boot stack, and the
//! identity-mapped page the application processors start in.

use core::ops::Range;

use x86_64::registers::control::{Cr0, Cr0Flags, Cr3, Cr3Flags};
use x86_64::registers::model_specific::{Efer, EferFlags};
use x86_64::structures::paging::mapper::MapToError;
use x86_64::structures::paging::{
    FrameAllocator as PageTableFrames, Mapper, OffsetPageTable, Page, PageTable, PageTableFlags as Flags, PhysFrame,
    Size2MiB, Size4KiB, Translate,
};
use x86_64::{PhysAddr, VirtAddr};

use super::frame::FRAME_SIZE;
use super::physmap::{self, PHYS_OFFSET};

/// Virtual ranges of the hypervisor image, from `linker.ld`.
#[derive(Clone, Debug)]
pub struct ImageLayout {
    pub text: Range<u64>,
    pub rodata: Range<u64>,
    pub data: Range<u64>,
}

#[cfg(target_os = "none")]
pub fn image_layout() -> ImageLayout {
    unsafe extern "C" {
        static __text_start: u8;
        static __text_end: u8;
        static __rodata_start: u8;
        static __rodata_end: u8;
        static __data_start: u8;
        static __data_end: u8;
    }
    let a = |s: *const u8| s as u64;
    ImageLayout {
        text: a(&raw const __text_start)..a(&raw const __text_end),
        rodata: a(&raw const __rodata_start)..a(&raw const __rodata_end),
        data: a(&raw const __data_start)..a(&raw const __data_end),
    }
}

struct Frames;

// SAFETY: frames come from the global allocator, zeroed, and are never handed
// out twice while mapped.
unsafe impl PageTableFrames<Size4KiB> for Frames {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        super::alloc_mfn().map(|m| PhysFrame::containing_address(PhysAddr::new(m.addr())))
    }
}

/// What goes into the new address space besides the image.
pub struct AddressSpacePlan {
    /// Physical memory below this address is mapped in the window.
    pub phys_limit: u64,
    /// The boot stack (virtual), copied from the bootloader's tables.
    pub stack: Range<u64>,
    /// A physical page mapped at the same virtual address, executable.
    pub identity_page: u64,
}

#[derive(Debug)]
pub enum PagingError {
    /// the bootloader's page tables do not map hypervisor page {0:#x}
    NotMapped(u64),
    /// out of frames while building the page tables
    OutOfFrames,
    /// the page at {0:#x} is already mapped
    Overlap(u64),
}

impl<S: x86_64::structures::paging::PageSize> From<MapToError<S>> for PagingError {
    fn from(e: MapToError<S>) -> Self {
        match e {
            MapToError::FrameAllocationFailed => PagingError::OutOfFrames,
            MapToError::PageAlreadyMapped(f) => PagingError::Overlap(f.start_address().as_u64()),
            MapToError::ParentEntryHugePage => PagingError::Overlap(0),
        }
    }
}

/// The root of the hypervisor's page tables, for `CR3` on every CPU. Only
/// [`build`] makes one, so a `Root` always maps the image and its stack.
#[derive(Clone, Copy, Debug)]
pub struct Root(PhysFrame);

impl Root {
    pub fn phys(self) -> u64 {
        self.0.start_address().as_u64()
    }
}

/// Builds the hypervisor's page tables next to the bootloader's (which stay
/// active) and returns their root, below 4 GiB as a 32-bit AP start needs.
pub fn build(layout: &ImageLayout, plan: &AddressSpacePlan) -> Result<Root, PagingError> {
    let root = super::alloc_mfn_below(1 << 32).ok_or(PagingError::OutOfFrames)?;
    // SAFETY: both roots are page tables reachable through the window (the bootloader maps physical memory at PHYS_OFFSET as well); the new one is a fresh zeroed frame that only this function uses.
    let (old, mut new) = unsafe {
        let (boot_root, _) = Cr3::read();
        let old = OffsetPageTable::new(
            &mut *physmap::ptr::<PageTable>(boot_root.start_address().as_u64()),
            VirtAddr::new(PHYS_OFFSET),
        );
        let new = OffsetPageTable::new(&mut *physmap::ptr::<PageTable>(root.addr()), VirtAddr::new(PHYS_OFFSET));
        (old, new)
    };
    let table = Flags::PRESENT | Flags::WRITABLE;
    let copy = |new: &mut OffsetPageTable, range: &Range<u64>, flags: Flags, skip_holes: bool| {
        for va in range.clone().step_by(crate::bits::to_usize(FRAME_SIZE)) {
            let Some(pa) = old.translate_addr(VirtAddr::new(va)) else {
                if skip_holes {
                    continue;
                }
                return Err(PagingError::NotMapped(va));
            };
            let page = Page::<Size4KiB>::containing_address(VirtAddr::new(va));
            let frame = PhysFrame::containing_address(pa);
            // SAFETY: maps the same frame the bootloader maps at this address, with permissions no wider than the linker script's.
            unsafe { new.map_to_with_table_flags(page, frame, flags, table, &mut Frames)? }.ignore();
        }
        Ok(())
    };
    copy(&mut new, &layout.text, Flags::PRESENT, false)?;
    copy(&mut new, &layout.rodata, Flags::PRESENT | Flags::NO_EXECUTE, false)?;
    copy(&mut new, &layout.data, Flags::PRESENT | Flags::WRITABLE | Flags::NO_EXECUTE, false)?;
    copy(&mut new, &plan.stack, Flags::PRESENT | Flags::WRITABLE | Flags::NO_EXECUTE, true)?;

    let window = Flags::PRESENT | Flags::WRITABLE | Flags::NO_EXECUTE | Flags::HUGE_PAGE;
    for pa in (0..plan.phys_limit.next_multiple_of(2 << 20)).step_by(2 << 20) {
        let page = Page::<Size2MiB>::containing_address(VirtAddr::new(PHYS_OFFSET + pa));
        let frame = PhysFrame::<Size2MiB>::containing_address(PhysAddr::new(pa));
        // SAFETY: the window aliases physical memory; Rust references into it are only made by the mm layer for memory it owns.
        unsafe { new.map_to_with_table_flags(page, frame, window, table, &mut Frames)? }.ignore();
    }

    let page = Page::<Size4KiB>::containing_address(VirtAddr::new(plan.identity_page));
    let frame = PhysFrame::containing_address(PhysAddr::new(plan.identity_page));
    // SAFETY: the AP start-up page is executed at its physical address while the AP enables paging; it holds only that code and its parameters.
    unsafe { new.map_to_with_table_flags(page, frame, Flags::PRESENT, table, &mut Frames)? }.ignore();

    Ok(Root(PhysFrame::containing_address(PhysAddr::new(root.addr()))))
}

/// Switches this CPU to the hypervisor's page tables, with NX and
/// supervisor write protection on.
pub fn activate(root: Root) {
    // SAFETY: NXE is needed for the NX bits in `root`; WP makes read-only pages read-only for the hypervisor too; `root` comes from `build`, so it maps the running code, the boot stack, every static and the window.
    unsafe {
        Efer::update(|f| f.insert(EferFlags::NO_EXECUTE_ENABLE));
        Cr0::update(|f| f.insert(Cr0Flags::WRITE_PROTECT));
        Cr3::write(root.0, Cr3Flags::empty());
    }
}

/// Translates a virtual address through the page tables active now.
pub fn translate_current(va: u64) -> Option<u64> {
    let (root, _) = Cr3::read();
    // SAFETY: the active root is a page table reachable through the window; the mapper only reads it here.
    let table = unsafe {
        OffsetPageTable::new(&mut *physmap::ptr::<PageTable>(root.start_address().as_u64()), VirtAddr::new(PHYS_OFFSET))
    };
    table.translate_addr(VirtAddr::new(va)).map(|pa| pa.as_u64())
}
