//! Calls the fuzzer deliberately does not make, because on Xen they would
//! legitimately stop or hang this domain (or garble the log it is judged
//! by), so a run could not tell a hypervisor bug from the call doing its job.
//! Xen's argument types decide what "the same call" is: `sched_op`,
//! `vcpu_op` and `console_io` take an int command (bits 32..63 ignored),
//! memory_op's op is `cmd & 0x3f`, hvm_op's op is a full unsigned long.
//!
//! | hypercall | excluded | why |
//! |---|---|---|
//! | sched_op_compat (6) | all | the old ABI's block and shutdown |
//! | sched_op (29) | SCHEDOP_block, poll | may never return without an event |
//! | sched_op | SCHEDOP_shutdown, remote_shutdown | stops this domain (remote: when it names itself) |
//! | sched_op | SCHEDOP_shutdown_code | latches a reason the final poweroff would report |
//! | sched_op | SCHEDOP_watchdog | a watchdog that expires kills this domain |
//! | vcpu_op (24) | VCPUOP_down | downing the only vCPU powers the domain off |
//! | vcpu_op | VCPUOP_send_nmi | an NMI with no IDT to take it: triple fault |
//! | memory_op (12) | XENMEM_decrease_reservation | would unmap this domain's own pages |
//! | multicall (13) | all | its entries are calls these checks cannot see |
//! | console_io (18) | CONSOLEIO_write | random bytes in the serial log the run is judged by |
//! | hvm_op (34) | HVMOP_set_param of VM86_TSS(_SIZED) | Xen crashes a guest setting a bad value for itself |
//! | domctl (36) | createdomain, destroydomain, pausedomain | makes domains outlive the run, or stops this one |
//! | sysctl (35) | cpu_hotplug, cpupool_op | could take this domain's CPUs away |
//! | grant_table_op (20) | GNTTABOP_map_grant_ref with `GNTMAP_host_map` at a `host_addr` below [`OWN_MEMORY_END`] | maps a (learned, perhaps read-only) grant over this kernel's own RAM, which it then writes |

use crate::calls::Call;

const SCHED_OP_COMPAT: u64 = 6;
const MEMORY_OP: u64 = 12;
const MULTICALL: u64 = 13;
const CONSOLE_IO: u64 = 18;
const VCPU_OP: u64 = 24;
const SCHED_OP: u64 = 29;
const HVM_OP: u64 = 34;
const SYSCTL: u64 = 35;
const DOMCTL: u64 = 36;
const GRANT_TABLE_OP: u64 = 20;
/// This kernel's own memory: its image, the scratch area, the learned
/// pages and the user page all lie below 8 MiB.
pub const OWN_MEMORY_END: u64 = 8 << 20;
/// `struct gnttab_map_grant_ref`: host_addr at 0, flags at 8; 32 bytes.
const MAP_GRANT_REF_SIZE: u64 = 32;
const GNTMAP_HOST_MAP: u64 = 1 << 1;
/// Most batch entries looked at (a scratch area's worth).
const MAX_ENTRIES: u64 = 1024;

/// The low 32 bits: what Xen sees of an `int` or `unsigned int` argument.
fn int(v: u64) -> u32 {
    u32::try_from(v & 0xffff_ffff).unwrap_or(0)
}

/// Why `call` is not made, or `None`. `read(addr, len)` reads `len` (<= 8)
/// little-endian bytes of guest memory the fuzzer owns (its scratch area),
/// `None` elsewhere: a pointer anywhere else makes Xen fail the copy before
/// it acts.
pub fn excluded(call: &Call, read: impl Fn(u64, usize) -> Option<u64>) -> Option<&'static str> {
    let [a0, a1, ..] = call.args;
    match call.nr {
        SCHED_OP_COMPAT => Some("sched_op_compat: block and shutdown"),
        MULTICALL => Some("multicall: entries not checked"),
        SCHED_OP => match int(a0) {
            1 => Some("SCHEDOP_block"),
            2 => Some("SCHEDOP_shutdown"),
            3 => Some("SCHEDOP_poll"),
            4 => Some("SCHEDOP_remote_shutdown"),
            5 => Some("SCHEDOP_shutdown_code"),
            6 => Some("SCHEDOP_watchdog"),
            _ => None,
        },
        VCPU_OP => match int(a0) {
            2 => Some("VCPUOP_down"),
            11 => Some("VCPUOP_send_nmi"),
            _ => None,
        },
        MEMORY_OP if a0 & 0x3f == 1 => Some("XENMEM_decrease_reservation"),
        CONSOLE_IO if int(a0) == 0 => Some("CONSOLEIO_write"),
        HVM_OP if a0 == 0 => match read(a1 + 4, 4) {
            Some(15 | 37) => Some("HVMOP_set_param VM86_TSS"),
            _ => None,
        },
        DOMCTL => match read(a0, 4) {
            Some(1) => Some("XEN_DOMCTL_createdomain"),
            Some(2) => Some("XEN_DOMCTL_destroydomain"),
            Some(3) => Some("XEN_DOMCTL_pausedomain"),
            _ => None,
        },
        GRANT_TABLE_OP if int(a0) == 0 && maps_over_own_memory(a1, u64::from(int(call.args[2])), &read) => {
            Some("GNTTABOP_map_grant_ref over this kernel's own memory")
        }
        SYSCTL => match read(a0, 4) {
            Some(11) => Some("XEN_SYSCTL_cpu_hotplug"),
            Some(18) => Some("XEN_SYSCTL_cpupool_op"),
            _ => None,
        },
        _ => None,
    }
}

/// Whether a map_grant_ref batch at `list` of `count` entries has a
/// readable entry that host-maps at this kernel's own memory (entries past
/// the scratch area cannot be read by Xen either: it stops there).
fn maps_over_own_memory(list: u64, count: u64, read: &impl Fn(u64, usize) -> Option<u64>) -> bool {
    for i in 0..count.min(MAX_ENTRIES) {
        let at = list.wrapping_add(i * MAP_GRANT_REF_SIZE);
        let (Some(host_addr), Some(flags)) = (read(at, 8), read(at + 8, 4)) else { return false };
        if flags & GNTMAP_HOST_MAP != 0 && host_addr < OWN_MEMORY_END {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(nr: u64, args: [u64; 5]) -> Call {
        Call { nr, args }
    }

    /// A guest memory with one u32 `value` at `addr`.
    fn mem(addr: u64, value: u64) -> impl Fn(u64, usize) -> Option<u64> {
        move |a, _| (a == addr).then_some(value)
    }

    const NOTHING: fn(u64, usize) -> Option<u64> = |_, _| None;

    #[test]
    fn shutdown_is_excluded_whatever_the_upper_bits() {
        assert!(excluded(&call(SCHED_OP, [2, 0, 0, 0, 0]), NOTHING).is_some());
        assert!(excluded(&call(SCHED_OP, [(7 << 32) | 2, 0, 0, 0, 0]), NOTHING).is_some());
        assert!(excluded(&call(SCHED_OP, [0, 0, 0, 0, 0]), NOTHING).is_none());
    }

    #[test]
    fn memory_op_excludes_decrease_reservation_with_a_start_extent() {
        assert!(excluded(&call(MEMORY_OP, [1 | (5 << 6), 0, 0, 0, 0]), NOTHING).is_some());
        assert!(excluded(&call(MEMORY_OP, [6, 0, 0, 0, 0]), NOTHING).is_none());
    }

    #[test]
    fn domctl_is_judged_by_the_struct_in_memory() {
        let c = call(DOMCTL, [0x1000, 0, 0, 0, 0]);
        assert!(excluded(&c, mem(0x1000, 3)).is_some());
        assert!(excluded(&c, mem(0x1000, 5)).is_none());
        assert!(excluded(&c, NOTHING).is_none());
    }

    #[test]
    fn set_param_of_vm86_tss_is_excluded() {
        let c = call(HVM_OP, [0, 0x2000, 0, 0, 0]);
        assert!(excluded(&c, mem(0x2004, 15)).is_some());
        assert!(excluded(&c, mem(0x2004, 0)).is_none());
        // hvm_op's op is an unsigned long: 1 << 32 is not HVMOP_set_param.
        assert!(excluded(&call(HVM_OP, [1 << 32, 0x2000, 0, 0, 0]), mem(0x2004, 15)).is_none());
    }

    #[test]
    fn numbers_past_the_table_are_not_confused_with_sched_op() {
        assert!(excluded(&call((1 << 32) | SCHED_OP, [2, 0, 0, 0, 0]), NOTHING).is_none());
    }

    #[test]
    fn grant_maps_over_own_memory_are_excluded() {
        // One entry at 0x100: host_addr 0x202000, flags host_map.
        let read = |addr: u64, len: usize| match (addr, len) {
            (0x100, 8) => Some(0x20_2000),
            (0x108, 4) => Some(GNTMAP_HOST_MAP),
            (0x120, 8) => Some(0x900_0000),
            (0x128, 4) => Some(GNTMAP_HOST_MAP),
            _ => None,
        };
        assert!(excluded(&call(GRANT_TABLE_OP, [0, 0x100, 1, 0, 0]), read).is_some());
        assert!(excluded(&call(GRANT_TABLE_OP, [0, 0x120, 1, 0, 0]), read).is_none(), "above our memory");
        assert!(excluded(&call(GRANT_TABLE_OP, [1, 0x100, 1, 0, 0]), read).is_none(), "not a map");
        assert!(excluded(&call(GRANT_TABLE_OP, [0, 0x100, 0, 0, 0]), read).is_none(), "no entries");
    }
}
