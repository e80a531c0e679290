//! Random hypercalls from a seed: the number, the sub-op and the arguments,
//! and the values the scratch area (where argument pointers point) is filled
//! with. Same seed, same calls.
//!
//! Numbers: half of them the hypercalls Xen offers HVM guests, then any of
//! 0..=41, the rest of 0..=63, numbers past the table but inside the
//! hypercall page (64..=127), and random 64-bit values (made with a direct
//! VMCALL/VMMCALL). The first argument is usually a
//! small sub-op. Arguments: small integers, domain ids, pointers into the
//! scratch area (aligned or not), NULL, unmapped addresses, a buffer running
//! into unmapped memory, hypervisor-range and non-canonical addresses, huge
//! and random values. No value generated here is an address of this kernel
//! or a frame of it (small integers stay below 256, under the kernel's first
//! frame at 1 MiB; the scratch area lies above the kernel), so only the
//! scratch area and memory nothing uses are handed out.

use guest_rt::rng::Rng;

/// `DOMID_SELF`, `DOMID_IO`, `DOMID_INVALID`, `DOMID_IDLE`.
const RESERVED_DOMIDS: [u64; 4] = [0x7ff0, 0x7ff1, 0x7ff4, 0x7fff];

/// The hypercalls of Xen's HVM table (xen/include/hypercall-defs.c).
const HVM_HYPERCALLS: [u64; 21] = [
    7, 12, 13, 15, 17, 18, 20, 21, 24, 26, 27, 29, 32, 33, 34, 35, 36, 40, 41, 42, 49,
];

/// Values at the edges of the integer types.
const HUGE: [u64; 8] = [
    u64::MAX,
    u64::MAX - 1,
    u32::MAX as u64,
    0x8000_0000,
    0x7fff_ffff,
    1 << 32,
    1 << 63,
    0xffff,
];

/// Where the calls may point.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// Start of the scratch area (page-aligned).
    pub scratch: u64,
    /// Its size in bytes.
    pub scratch_len: u64,
    /// A 2 MiB range unmapped in the guest's page tables whose preceding
    /// 2 MiB are unused RAM, if there is one.
    pub hole: Option<u64>,
    /// This domain's id.
    pub domid: u16,
}

/// One hypercall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Call {
    pub nr: u64,
    pub args: [u64; 5],
}

/// What the fuzzer set up before its run and may name as valid handles:
/// grant references it filled, gfns of pages it owns (and will not miss),
/// event channel ports it bound, its vCPU ids. Empty: none are mixed in.
#[derive(Clone, Copy, Debug, Default)]
pub struct Handles {
    pub grant_refs: [u64; 8],
    pub ports: [u64; 4],
    pub gfns: [u64; 8],
    pub vcpus: [u64; 1],
    /// Whether the arrays hold anything.
    pub valid: bool,
}

pub struct Gen {
    rng: Rng,
    layout: Layout,
    handles: Handles,
}

impl Gen {
    pub fn new(seed: u64, layout: Layout) -> Gen {
        Gen {
            rng: Rng::new(seed),
            layout,
            handles: Handles::default(),
        }
    }

    /// A generator that also hands out `handles` (one value in ten of the
    /// arguments and scratch slots that would otherwise be a small number).
    pub fn with_handles(seed: u64, layout: Layout, handles: Handles) -> Gen {
        Gen { handles, ..Gen::new(seed, layout) }
    }

    /// A valid handle of some kind: a grant ref, a port, a gfn, its
    /// address, a vCPU id.
    fn handle(&mut self) -> u64 {
        let h = self.handles;
        match self.rng.below(5) {
            0 => self.rng.pick(&h.grant_refs),
            1 => self.rng.pick(&h.ports),
            2 => self.rng.pick(&h.gfns),
            3 => self.rng.pick(&h.gfns) << 12,
            _ => self.rng.pick(&h.vcpus),
        }
    }

    pub fn call(&mut self) -> Call {
        let nr = self.nr();
        let mut args = [0; 5];
        args[0] = self.sub_op();
        for a in &mut args[1..] {
            *a = self.arg();
        }
        Call { nr, args }
    }

    fn nr(&mut self) -> u64 {
        match self.rng.below(100) {
            0..=49 => self.rng.pick(&HVM_HYPERCALLS),
            50..=69 => self.rng.below(42),
            70..=84 => self.rng.below(64),
            85..=89 => 64 + self.rng.below(64),
            90..=94 => (self.rng.below(0xffff) << 32) | self.rng.below(64),
            _ => self.rng.next_u64(),
        }
    }

    fn sub_op(&mut self) -> u64 {
        match self.rng.below(100) {
            0..=59 => self.rng.below(32),
            60..=74 => self.rng.below(256),
            _ => self.arg(),
        }
    }

    fn arg(&mut self) -> u64 {
        let l = self.layout;
        match self.rng.below(100) {
            0..=19 => self.rng.below(16),
            20..=24 => self.rng.below(256),
            25..=39 => self.scratch_ptr(),
            40..=49 => 0,
            50..=59 => self.rng.next_u64(),
            60..=64 => 0xffff_8000_0000_0000 | self.rng.below(1 << 46),
            // Non-canonical with bit 47 set and 48..63 clear: even a page
            // walk that ignored bits 48..63 would find nothing (PML4 slots
            // 256 and up are empty).
            65..=69 => 0x0000_8000_0000_0000 | self.rng.below(1 << 47),
            70..=74 => self.rng.pick(&HUGE),
            75..=79 => match self.rng.below(3) {
                0 => u64::from(l.domid),
                1 => self.rng.pick(&RESERVED_DOMIDS),
                // Other domains: low ids, and the highest ordinary one.
                _ => self.rng.pick(&[1, 2, 3, 7, 0x7fef]),
            },
            80..=84 => match l.hole {
                Some(hole) => hole + self.rng.below(2 << 20),
                None => 0x80_0000_0000 + self.rng.below(1 << 30),
            },
            // A buffer whose end runs into the hole (the start is RAM this
            // kernel does not use).
            85..=89 => match l.hole {
                Some(hole) => hole - 1 - self.rng.below(64),
                None => 0,
            },
            _ if self.handles.valid && self.rng.chance(1, 2) => self.handle(),
            _ => self.rng.below(64),
        }
    }

    /// A pointer into the scratch area: 8-byte aligned mostly, at least
    /// 64 bytes before its end so that small structs fit.
    fn scratch_ptr(&mut self) -> u64 {
        let l = self.layout;
        let off = self.rng.below(l.scratch_len - 64);
        if self.rng.chance(3, 4) {
            l.scratch + (off & !7)
        } else {
            l.scratch + off
        }
    }

    /// A value for one 8-byte slot of the scratch area: mostly zeros and
    /// small numbers, some pointers back into the scratch, domain ids,
    /// domctl/sysctl headers with the right interface version (0x15) and a
    /// small command, edge values and random bits.
    pub fn slot(&mut self) -> u64 {
        match self.rng.below(100) {
            0..=39 => 0,
            40..=59 => self.rng.below(256),
            60..=69 => self.scratch_ptr(),
            70..=74 => self.rng.pick(&RESERVED_DOMIDS),
            75..=79 => (0x15 << 32) | self.rng.below(100),
            80..=84 => self.rng.pick(&HUGE),
            _ if self.handles.valid && self.rng.chance(1, 3) => self.handle(),
            _ => self.rng.next_u64(),
        }
    }
}

/// Which calls a run makes from CPL 3 (the fuzzer's `user` option): one in
/// `every` on average, drawn from a stream of its own derived from the seed.
/// So the calls [`Gen`] makes are the same with or without the option, and
/// which of them go to CPL 3 is the same on every run of a seed.
pub struct UserPicks {
    rng: Rng,
    every: u64,
}

impl UserPicks {
    /// Mixed into the seed so that this stream is not [`Gen`]'s.
    const STREAM: u64 = 0x5553_4552_4d4f_4445; // "USERMODE"

    /// `every` = 0: no call from CPL 3.
    pub fn new(seed: u64, every: u64) -> UserPicks {
        UserPicks { rng: Rng::new(seed ^ Self::STREAM), every }
    }

    /// Whether the next call is made from CPL 3.
    pub fn next_at_cpl3(&mut self) -> bool {
        self.every != 0 && self.rng.chance(1, self.every)
    }
}

/// The sub-op a call names, for the coverage table: the `cmd` field of the
/// domctl/sysctl struct its first argument points at (`read` reads the
/// fuzzer's own memory, `None` elsewhere: then 0xffff_ffff), memory_op's
/// `cmd & 0x3f`, else the low 32 bits of the first argument.
pub fn sub_op(call: &Call, read: impl Fn(u64, usize) -> Option<u64>) -> u64 {
    match call.nr {
        35 | 36 => read(call.args[0], 4).unwrap_or(0xffff_ffff),
        12 => call.args[0] & 0x3f,
        _ => call.args[0] & 0xffff_ffff,
    }
}

/// Xen's name of hypercall `nr` (xen.h), or `-`.
pub fn name(nr: u64) -> &'static str {
    const NAMES: [&str; 43] = [
        "set_trap_table", "mmu_update", "set_gdt", "stack_switch", "set_callbacks", "fpu_taskswitch",
        "sched_op_compat", "platform_op", "set_debugreg", "get_debugreg", "update_descriptor", "-",
        "memory_op", "multicall", "update_va_mapping", "set_timer_op", "event_channel_op_compat",
        "xen_version", "console_io", "physdev_op_compat", "grant_table_op", "vm_assist",
        "update_va_mapping_otherdomain", "iret", "vcpu_op", "set_segment_base", "mmuext_op", "xsm_op",
        "nmi_op", "sched_op", "callback_op", "xenoprof_op", "event_channel_op", "physdev_op", "hvm_op",
        "sysctl", "domctl", "kexec_op", "tmem_op", "argo_op", "xenpmu_op", "dm_op", "hypfs_op",
    ];
    usize::try_from(nr).ok().and_then(|n| NAMES.get(n)).copied().unwrap_or(match nr {
        48..=55 => "arch",
        _ => "-",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAYOUT: Layout = Layout {
        scratch: 0x0020_0000,
        scratch_len: 0x4000,
        hole: Some(4 << 20),
        domid: 0,
    };

    #[test]
    fn same_seed_same_calls() {
        let mut a = Gen::new(1, LAYOUT);
        let mut b = Gen::new(1, LAYOUT);
        for _ in 0..1000 {
            assert_eq!(a.call(), b.call());
        }
        assert_ne!(Gen::new(1, LAYOUT).call(), Gen::new(2, LAYOUT).call());
    }

    #[test]
    fn numbers_favour_xens_table() {
        let mut g = Gen::new(7, LAYOUT);
        let calls: Vec<Call> = (0..10_000).map(|_| g.call()).collect();
        let in_table = calls.iter().filter(|c| c.nr <= 41).count();
        assert!(in_table > 6_000, "{in_table}");
        assert!(calls.iter().any(|c| c.nr > u64::from(u32::MAX)));
        assert!(calls.iter().any(|c| (64..128).contains(&c.nr)));
    }

    /// Nothing generated points into the kernel image (1 MiB up to the
    /// scratch area) or names one of its frames.
    #[test]
    fn no_value_names_the_kernel() {
        let kernel = 0x0010_0000..LAYOUT.scratch;
        let frames = (0x0010_0000 >> 12)..(LAYOUT.scratch >> 12);
        let mut g = Gen::new(3, LAYOUT);
        for _ in 0..20_000 {
            let c = g.call();
            for v in c.args.into_iter().chain([g.slot()]) {
                assert!(!kernel.contains(&v), "{v:#x}");
                assert!(!frames.contains(&v), "{v:#x}");
            }
        }
    }

    #[test]
    fn handles_are_mixed_in_only_when_given() {
        let handles = Handles { grant_refs: [900; 8], ports: [901; 4], gfns: [0x3456; 8], vcpus: [0], valid: true };
        let mut g = Gen::with_handles(9, LAYOUT, handles);
        let values: Vec<u64> = (0..20_000).flat_map(|_| { let c = g.call(); c.args.into_iter().chain([g.slot()]) }).collect();
        for v in [900, 901, 0x3456, 0x3456 << 12] {
            assert!(values.contains(&v), "{v:#x} never handed out");
        }
        let mut plain = Gen::new(9, LAYOUT);
        assert!((0..20_000).all(|_| !plain.call().args.contains(&900)));
        // The same seed without handles is the same stream as before.
        assert_eq!(Gen::new(4, LAYOUT).call(), Gen::with_handles(4, LAYOUT, Handles::default()).call());
    }

    #[test]
    fn sub_ops_and_names() {
        let c = Call { nr: 36, args: [0x1000, 0, 0, 0, 0] };
        assert_eq!(sub_op(&c, |a, _| (a == 0x1000).then_some(5)), 5);
        assert_eq!(sub_op(&c, |_, _| None), 0xffff_ffff);
        assert_eq!(sub_op(&Call { nr: 12, args: [7 | (3 << 6), 0, 0, 0, 0] }, |_, _| None), 7);
        assert_eq!(name(12), "memory_op");
        assert_eq!(name(42), "hypfs_op");
        assert_eq!(name(49), "arch");
        assert_eq!(name(1 << 40), "-");
    }

    #[test]
    fn user_picks_are_seeded_and_about_one_in_every() {
        let picks = |seed, every| {
            let mut u = UserPicks::new(seed, every);
            (0..16_000).map(|_| u.next_at_cpl3()).collect::<Vec<bool>>()
        };
        let a = picks(3, 16);
        assert_eq!(a, picks(3, 16), "same seed, same picks");
        assert_ne!(a, picks(4, 16));
        let n = a.iter().filter(|&&p| p).count();
        assert!((800..1200).contains(&n), "{n} of 16000");
        assert!(picks(3, 0).iter().all(|&p| !p), "0: never");
        assert!(picks(3, 1).iter().all(|&p| p), "1: always");
    }

    #[test]
    fn scratch_pointers_stay_inside() {
        let mut g = Gen::new(5, LAYOUT);
        for _ in 0..10_000 {
            let p = g.scratch_ptr();
            assert!(p >= LAYOUT.scratch && p + 64 <= LAYOUT.scratch + LAYOUT.scratch_len);
        }
    }
}
