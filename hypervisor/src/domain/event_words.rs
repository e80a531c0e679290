//! A domain's 2-level event bits where its guest sees them: the bitmaps in
//! its shared-info frame, the selector and upcall flag in each vCPU's
//! `vcpu_info` (the registered one, else its slot in shared info). Offsets
//! follow the 64-bit or the 32-bit (compat) layout the domain latched.

use abi::xen::{SharedInfo, VcpuInfo, XEN_LEGACY_MAX_VCPUS};

use super::object::Domain;
use crate::event::two_level::{Bitmap, EventWords};
use crate::mm::handle::{Frame, FrameRef, OwnedFrame};
use crate::mm::p2m::Gfn;
use crate::mm::{self};

/// Where a vCPU's `vcpu_info` is: its slot in shared info, or the RAM
/// frame it registered (borrowed from the p2m).
enum VcpuInfoFrame<'a> {
    Shared(&'a OwnedFrame),
    Ram(FrameRef<'a>),
}

impl VcpuInfoFrame<'_> {
    fn frame(&self) -> &dyn Frame {
        match self {
            VcpuInfoFrame::Shared(f) => *f,
            VcpuInfoFrame::Ram(f) => f,
        }
    }
}

/// `evtchn_pending` (both layouts) and `evtchn_mask` offsets in shared info:
/// 64 × 8-byte words, or 32 × 4-byte words for compat.
const PENDING: usize = core::mem::offset_of!(SharedInfo, evtchn_pending);
const MASK_64: usize = core::mem::offset_of!(SharedInfo, evtchn_mask);
const MASK_32: usize = PENDING + 32 * 4;
/// `evtchn_pending_sel` in `vcpu_info`: after two bytes and padding to the
/// word size.
const SELECTOR_64: usize = core::mem::offset_of!(VcpuInfo, evtchn_pending_sel);
const SELECTOR_32: usize = 4;

impl Domain {
    /// The frame and offset of `vcpu`'s `vcpu_info`, if it has one now.
    fn vcpu_info_at(&self, vcpu: u32) -> Option<(VcpuInfoFrame<'_>, usize)> {
        match self.vcpus.get(vcpu as usize)?.vcpu_info {
            Some((gfn, offset)) => Some((VcpuInfoFrame::Ram(self.p2m.ram_frame(Gfn(gfn), false)?), offset as usize)),
            None if (vcpu as usize) < XEN_LEGACY_MAX_VCPUS => {
                Some((VcpuInfoFrame::Shared(&self.shared_info), vcpu as usize * core::mem::size_of::<VcpuInfo>()))
            }
            None => None,
        }
    }

    fn bitmap_byte(&self, map: Bitmap, port: u32) -> Option<(usize, u8)> {
        if port >= self.nr_channels() {
            return None;
        }
        let base = match (map, self.compat_shinfo) {
            (Bitmap::Pending, _) => PENDING,
            (Bitmap::Mask, false) => MASK_64,
            (Bitmap::Mask, true) => MASK_32,
        };
        Some((base + port as usize / 8, (port % 8) as u8))
    }
}

impl EventWords for Domain {
    fn word_bits(&self) -> u32 {
        if self.compat_shinfo { 32 } else { 64 }
    }
    fn test_and_set(&mut self, map: Bitmap, port: u32) -> bool {
        self.bitmap_byte(map, port).is_none_or(|(at, bit)| mm::frame_update_bit(&self.shared_info, at, bit, true))
    }
    fn test_and_clear(&mut self, map: Bitmap, port: u32) -> bool {
        self.bitmap_byte(map, port).is_some_and(|(at, bit)| mm::frame_update_bit(&self.shared_info, at, bit, false))
    }
    fn test(&self, map: Bitmap, port: u32) -> bool {
        self.bitmap_byte(map, port).is_some_and(|(at, bit)| mm::frame_test_bit(&self.shared_info, at, bit))
    }
    fn test_and_set_selector(&mut self, vcpu: u32, bit: u32) -> bool {
        let Some((at, offset)) = self.vcpu_info_at(vcpu) else { return true };
        let selector = if self.compat_shinfo { SELECTOR_32 } else { SELECTOR_64 };
        if bit >= self.word_bits() {
            return true;
        }
        mm::frame_update_bit(at.frame(), offset + selector + bit as usize / 8, (bit % 8) as u8, true)
    }
    fn test_and_set_upcall(&mut self, vcpu: u32) -> bool {
        let Some((at, offset)) = self.vcpu_info_at(vcpu) else { return true };
        mm::frame_update_bit(at.frame(), offset + core::mem::offset_of!(VcpuInfo, evtchn_upcall_pending), 0, true)
    }
    fn kick(&mut self, vcpu: u32) {
        if let Some(v) = self.vcpus.get(vcpu as usize) {
            v.signals.raise_upcall();
            // Another CPU runs (or waits on) it: interrupt it rather than
            // let it wait for its next timer tick, once the domain table
            // (locked now) is released (`sched::kick`).
            if let Some(cpu) = v.running_on {
                crate::sched::kick::defer(cpu);
            }
        }
    }
    fn wake_pollers(&mut self, port: u32) {
        // Its wait loop sees the pending port once its CPU is interrupted.
        for v in self.vcpus.iter().filter(|v| v.poll_ports.contains(&port)) {
            if let Some(cpu) = v.running_on {
                crate::sched::kick::defer(cpu);
            }
        }
    }
}

impl Domain {
    /// `vcpu`'s `evtchn_upcall_pending` as the guest sees it.
    pub fn upcall_pending(&self, vcpu: u32) -> bool {
        self.vcpu_info_at(vcpu)
            .is_some_and(|(at, offset)| mm::frame_test_bit(at.frame(), offset + core::mem::offset_of!(VcpuInfo, evtchn_upcall_pending), 0))
    }

    /// The vector `vcpu`'s upcalls arrive on: its own
    /// (HVMOP_set_evtchn_upcall_vector), else the domain's
    /// HVM_PARAM_CALLBACK_IRQ when that names a vector (type 2).
    pub fn upcall_vector(&self, vcpu: u32) -> Option<u8> {
        const VIA_VECTOR: u64 = 2;
        let own = self.vcpus.get(vcpu as usize)?.upcall_vector;
        if own != 0 {
            return Some(own);
        }
        let via = self.hvm_params[abi::hvm::params::HVM_PARAM_CALLBACK_IRQ as usize];
        let vector = crate::bits::low8(via);
        (via >> 56 == VIA_VECTOR && vector >= 0x10).then_some(vector)
    }
}
