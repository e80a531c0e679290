//! `HYPERVISOR_hvm_op` (hvm/hvm_op.h, hvm/params.h).
//!
//! | cmd | here |
//! |---|---|
//! | `HVMOP_set_param` (0) | Xen's rules: index < HVM_NR_PARAMS (-EINVAL, checked first); a domain sets only the guest-settable params of its own (-EPERM otherwise), another domain's only with privilege; deprecated params -EINVAL; set-once params -EEXIST; checked values -EINVAL |
//! | `HVMOP_get_param` (1) | a domain reads only the guest-readable params of its own (-EPERM), others' with privilege |
//! | `HVMOP_set_evtchn_upcall_vector` (23) | vector >= 0x10 (-EINVAL), existing vCPU (-ENOENT); the vector is raised at once (Xen's `hvm_assert_evtchn_irq`) |
//! | `HVMOP_flush_tlbs` (5) | NULL argument only (-EINVAL) |
//! | `HVMOP_pagetable_dying` (9) | -EINVAL for itself (hardware-assisted paging: nothing to do), -EOPNOTSUPP for others |
//! | `HVMOP_get_time` (10) | system time in ns |
//! | `HVMOP_xentrace` (11) | checked, then dropped: tracing is off |
//! | `HVMOP_get_mem_type` (15) | HVMMEM_ram_rw / ram_ro / mmio_dm |
//! | `HVMOP_guest_request_vm_event` (24) | no monitor: NULL does nothing, non-NULL -EINVAL |
//! | `HVMOP_altp2m` (25) | -EOPNOTSUPP (altp2m is off) |
//! | other | -ENOSYS |

use abi::errno::Errno;
use abi::hvm::hvm_op::*;
use abi::hvm::params::*;

use super::{Caller, Outcome, read_arg, write_arg};

/// Params params.h marks deprecated: -EINVAL whoever asks.
fn deprecated(index: u32) -> bool {
    matches!(index, 4 | 13 | 20..=26 | 30)
}

/// Params a guest may read of itself (Xen's `hvm_allow_get_param`).
fn guest_readable(index: u32) -> bool {
    matches!(
        index,
        HVM_PARAM_CALLBACK_IRQ
            | HVM_PARAM_VM86_TSS
            | HVM_PARAM_VM86_TSS_SIZED
            | HVM_PARAM_ACPI_IOPORTS_LOCATION
            | HVM_PARAM_VM_GENERATION_ID_ADDR
            | HVM_PARAM_STORE_PFN
            | HVM_PARAM_STORE_EVTCHN
            | HVM_PARAM_CONSOLE_PFN
            | HVM_PARAM_CONSOLE_EVTCHN
            | HVM_PARAM_ALTP2M
            | HVM_PARAM_X87_FIP_WIDTH
    )
}

/// Params a guest may set on itself (Xen's `hvm_allow_set_param`).
fn guest_settable(index: u32) -> bool {
    matches!(
        index,
        HVM_PARAM_CALLBACK_IRQ
            | HVM_PARAM_VM86_TSS
            | HVM_PARAM_VM86_TSS_SIZED
            | HVM_PARAM_ACPI_IOPORTS_LOCATION
            | HVM_PARAM_VM_GENERATION_ID_ADDR
            | HVM_PARAM_STORE_EVTCHN
            | HVM_PARAM_CONSOLE_EVTCHN
            | HVM_PARAM_X87_FIP_WIDTH
    )
}

/// Values Xen's `hvm_set_param` refuses with -EINVAL.
fn value_ok(index: u32, value: u64) -> bool {
    match index {
        HVM_PARAM_TIMER_MODE => value <= 3, // HVMPTM_one_missed_tick_pending
        HVM_PARAM_ACPI_S_STATE => value == 0 || value == 3,
        HVM_PARAM_X87_FIP_WIDTH => matches!(value, 0 | 4 | 8),
        HVM_PARAM_ALTP2M => value <= 2, // XEN_ALTP2M_limited
        HVM_PARAM_TRIPLE_FAULT_REASON => value <= u64::from(abi::sched::SHUTDOWN_MAX),
        _ => true,
    }
}

pub fn hvm_op(caller: &mut impl Caller, cmd: u64, arg: u64) -> Outcome {
    match cmd {
        HVMOP_SET_PARAM | HVMOP_GET_PARAM => param(caller, cmd == HVMOP_SET_PARAM, arg),
        HVMOP_SET_EVTCHN_UPCALL_VECTOR => {
            let op: XenHvmEvtchnUpcallVector = match read_arg(caller, arg) {
                Ok(op) => op,
                Err(e) => return Outcome::err(e),
            };
            if op.vector < 0x10 {
                return Outcome::err(Errno::EINVAL);
            }
            match caller.this().vcpus().get_mut(op.vcpu as usize) {
                Some(v) => {
                    // Xen's hvm_assert_evtchn_irq: the vector is raised at
                    // once, so that events left pending (a vCPU brought
                    // up again after going down) reach the new handler.
                    v.upcall_vector = op.vector;
                    v.signals.raise_upcall();
                    if let Some(cpu) = v.running_on {
                        crate::sched::kick::defer(cpu);
                    }
                    Outcome::Return(0)
                }
                None => Outcome::err(Errno::ENOENT),
            }
        }
        HVMOP_FLUSH_TLBS if arg != 0 => Outcome::err(Errno::EINVAL),
        HVMOP_FLUSH_TLBS => {
            caller.this().request_tlb_flush();
            Outcome::Return(0)
        }
        HVMOP_GET_TIME => {
            let now = XenHvmGetTime { now: caller.machine_time_ns() };
            reply(write_arg(caller, arg, &now))
        }
        HVMOP_XENTRACE => match read_arg::<XenHvmXentrace>(caller, arg) {
            Err(e) => Outcome::err(e),
            // At most TRACE_EXTRA_MAX words of payload; no sub-class bits.
            Ok(t) if usize::from(t.extra_bytes) > TRACE_EXTRA_MAX * 4 || t.event >= 0x1000 => Outcome::err(Errno::EINVAL),
            Ok(_) => Outcome::Return(0),
        },
        HVMOP_PAGETABLE_DYING => match read_arg::<XenHvmPagetableDying>(caller, arg) {
            Err(e) => Outcome::err(e),
            Ok(a) => {
                let own = a.domid == abi::xen::DOMID_SELF || a.domid.0 == caller.domid();
                if caller.domain(a.domid.0).is_none() {
                    Outcome::err(Errno::ESRCH)
                } else if own {
                    Outcome::err(Errno::EINVAL)
                } else {
                    Outcome::err(Errno::EOPNOTSUPP)
                }
            }
        },
        HVMOP_GET_MEM_TYPE => {
            let mut a: XenHvmGetMemType = match read_arg(caller, arg) {
                Ok(a) => a,
                Err(e) => return Outcome::err(e),
            };
            let own = a.domid == abi::xen::DOMID_SELF || a.domid.0 == caller.domid();
            let privileged = caller.privileged();
            let Some(d) = caller.domain(a.domid.0) else { return Outcome::err(Errno::ESRCH) };
            if !own && !privileged {
                return Outcome::err(Errno::EPERM);
            }
            a.mem_type = d.mem_type(a.pfn).unwrap_or(HVMMEM_MMIO_DM);
            reply(write_arg(caller, arg, &a))
        }
        HVMOP_GUEST_REQUEST_VM_EVENT if arg != 0 => Outcome::err(Errno::EINVAL),
        HVMOP_GUEST_REQUEST_VM_EVENT => Outcome::Return(0),
        HVMOP_ALTP2M => Outcome::err(Errno::EOPNOTSUPP),
        _ => Outcome::err(Errno::ENOSYS),
    }
}

fn reply(result: Result<(), Errno>) -> Outcome {
    match result {
        Ok(()) => Outcome::Return(0),
        Err(e) => Outcome::err(e),
    }
}

fn param(caller: &mut impl Caller, set: bool, arg: u64) -> Outcome {
    let mut a: XenHvmParam = match read_arg(caller, arg) {
        Ok(a) => a,
        Err(e) => return Outcome::err(e),
    };
    if a.index >= HVM_NR_PARAMS {
        return Outcome::err(Errno::EINVAL);
    }
    let own = a.domid == abi::xen::DOMID_SELF || a.domid.0 == caller.domid();
    let privileged = caller.privileged();
    if caller.domain(a.domid.0).is_none() {
        return Outcome::err(Errno::ESRCH);
    }
    if !own && !privileged {
        return Outcome::err(Errno::EPERM);
    }
    if deprecated(a.index) {
        return Outcome::err(Errno::EINVAL);
    }
    let index = a.index;
    let compat = caller.compat();
    let Some(domain) = caller.domain(a.domid.0) else { return Outcome::err(Errno::ESRCH) };
    if set && own && index == HVM_PARAM_CALLBACK_IRQ {
        domain.latch_shinfo_compat(compat);
    }
    let params = domain.hvm_params();
    if set {
        if own && !guest_settable(index) {
            return Outcome::err(Errno::EPERM);
        }
        let old = params[index as usize];
        let set_once = matches!(
            index,
            HVM_PARAM_VIRIDIAN | HVM_PARAM_IOREQ_SERVER_PFN | HVM_PARAM_NR_IOREQ_SERVER_PAGES | HVM_PARAM_ALTP2M | HVM_PARAM_MCA_CAP
        );
        if set_once && old != 0 && a.value != old {
            return Outcome::err(Errno::EEXIST);
        }
        if !value_ok(index, a.value) {
            return Outcome::err(Errno::EINVAL);
        }
        params[index as usize] = a.value;
        Outcome::Return(0)
    } else {
        if own && !guest_readable(index) {
            return Outcome::err(Errno::EPERM);
        }
        a.value = params[index as usize];
        match write_arg(caller, arg, &a) {
            Ok(()) => Outcome::Return(0),
            Err(e) => Outcome::err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeCaller;
    use super::*;
    use abi::xen::{DOMID_SELF, DomId};

    fn p(domid: DomId, index: u32, value: u64) -> XenHvmParam {
        XenHvmParam { domid, pad: 0, index, value }
    }

    #[test]
    fn a_guest_sets_and_reads_its_callback_irq() {
        let mut c = FakeCaller::new(64);
        c.put(0, &p(DOMID_SELF, HVM_PARAM_CALLBACK_IRQ, (2 << 56) | 0xf3));
        assert_eq!(hvm_op(&mut c, HVMOP_SET_PARAM, 0), Outcome::Return(0));
        c.put(0, &p(DOMID_SELF, HVM_PARAM_CALLBACK_IRQ, 0));
        assert_eq!(hvm_op(&mut c, HVMOP_GET_PARAM, 0), Outcome::Return(0));
        assert_eq!(c.get::<XenHvmParam>(0).value, (2 << 56) | 0xf3);
    }

    #[test]
    fn toolstack_params_are_eperm_for_the_domain_itself() {
        let mut c = FakeCaller::new(64);
        c.put(0, &p(DOMID_SELF, HVM_PARAM_STORE_PFN, 5));
        assert_eq!(hvm_op(&mut c, HVMOP_SET_PARAM, 0), Outcome::err(Errno::EPERM));
        c.put(0, &p(DOMID_SELF, HVM_PARAM_TIMER_MODE, 0));
        assert_eq!(hvm_op(&mut c, HVMOP_GET_PARAM, 0), Outcome::err(Errno::EPERM));
        // Dom0 may set them for another domain.
        c.put(0, &p(DomId(1), HVM_PARAM_STORE_PFN, 5));
        assert_eq!(hvm_op(&mut c, HVMOP_SET_PARAM, 0), Outcome::Return(0));
        assert_eq!(c.dom(1).params[HVM_PARAM_STORE_PFN as usize], 5);
    }

    #[test]
    fn bad_index_domain_and_values_are_refused() {
        let mut c = FakeCaller::new(64);
        c.put(0, &p(DOMID_SELF, HVM_NR_PARAMS, 0));
        assert_eq!(hvm_op(&mut c, HVMOP_GET_PARAM, 0), Outcome::err(Errno::EINVAL));
        c.put(0, &p(DomId(77), 0, 0));
        assert_eq!(hvm_op(&mut c, HVMOP_GET_PARAM, 0), Outcome::err(Errno::ESRCH));
        c.put(0, &p(DomId(1), HVM_PARAM_TIMER_MODE, 9));
        assert_eq!(hvm_op(&mut c, HVMOP_SET_PARAM, 0), Outcome::err(Errno::EINVAL));
        c.put(0, &p(DomId(1), HVM_PARAM_PAE_ENABLED, 1));
        assert_eq!(hvm_op(&mut c, HVMOP_SET_PARAM, 0), Outcome::err(Errno::EINVAL), "deprecated");
        c.put(0, &p(DomId(77), HVM_NR_PARAMS, 0));
        assert_eq!(hvm_op(&mut c, HVMOP_SET_PARAM, 0), Outcome::err(Errno::EINVAL), "index checked before the domain");
        assert_eq!(hvm_op(&mut c, HVMOP_SET_PARAM, 62), Outcome::err(Errno::EFAULT));
    }

    #[test]
    fn set_once_params_refuse_a_change() {
        let mut c = FakeCaller::new(64);
        c.put(0, &p(DomId(1), HVM_PARAM_MCA_CAP, 1));
        assert_eq!(hvm_op(&mut c, HVMOP_SET_PARAM, 0), Outcome::Return(0));
        c.put(0, &p(DomId(1), HVM_PARAM_MCA_CAP, 2));
        assert_eq!(hvm_op(&mut c, HVMOP_SET_PARAM, 0), Outcome::err(Errno::EEXIST));
    }

    #[test]
    fn an_unprivileged_domain_cannot_touch_another() {
        let mut c = FakeCaller::unprivileged(64);
        c.put(0, &p(DomId(0), HVM_PARAM_CALLBACK_IRQ, 0));
        assert_eq!(hvm_op(&mut c, HVMOP_GET_PARAM, 0), Outcome::err(Errno::EPERM));
    }

    #[test]
    fn upcall_vector_needs_a_real_vector_and_vcpu() {
        let mut c = FakeCaller::new(64);
        c.put(0, &XenHvmEvtchnUpcallVector { vcpu: 0, vector: 0xf3, _pad: [0; 3] });
        assert_eq!(hvm_op(&mut c, HVMOP_SET_EVTCHN_UPCALL_VECTOR, 0), Outcome::Return(0));
        assert!(c.dom(0).vcpus[0].signals.take_upcall(), "the vector is raised at once, as Xen's hvm_assert_evtchn_irq");
        c.put(0, &XenHvmEvtchnUpcallVector { vcpu: 0, vector: 0x0f, _pad: [0; 3] });
        assert_eq!(hvm_op(&mut c, HVMOP_SET_EVTCHN_UPCALL_VECTOR, 0), Outcome::err(Errno::EINVAL));
        c.put(0, &XenHvmEvtchnUpcallVector { vcpu: 9, vector: 0xf3, _pad: [0; 3] });
        assert_eq!(hvm_op(&mut c, HVMOP_SET_EVTCHN_UPCALL_VECTOR, 0), Outcome::err(Errno::ENOENT));
        assert_eq!(hvm_op(&mut c, 99, 0), Outcome::err(Errno::ENOSYS));
    }

    #[test]
    fn small_ops_answer_as_xen() {
        let mut c = FakeCaller::new(128);
        assert_eq!(hvm_op(&mut c, HVMOP_FLUSH_TLBS, 0), Outcome::Return(0));
        assert_eq!(hvm_op(&mut c, HVMOP_FLUSH_TLBS, 8), Outcome::err(Errno::EINVAL));
        assert_eq!(hvm_op(&mut c, HVMOP_GET_TIME, 0), Outcome::Return(0));
        assert_eq!(c.get::<XenHvmGetTime>(0).now, 5000);
        assert_eq!(hvm_op(&mut c, HVMOP_GET_TIME, 125), Outcome::err(Errno::EFAULT));
        c.put(0, &XenHvmXentrace { event: 1, extra_bytes: 29, extra: [0; 28] });
        assert_eq!(hvm_op(&mut c, HVMOP_XENTRACE, 0), Outcome::err(Errno::EINVAL));
        c.put(0, &XenHvmXentrace { event: 1, extra_bytes: 4, extra: [0; 28] });
        assert_eq!(hvm_op(&mut c, HVMOP_XENTRACE, 0), Outcome::Return(0));
        c.put(0, &XenHvmPagetableDying { domid: DOMID_SELF, pad: [0; 3], gpa: 0 });
        assert_eq!(hvm_op(&mut c, HVMOP_PAGETABLE_DYING, 0), Outcome::err(Errno::EINVAL));
        c.put(0, &XenHvmGetMemType { domid: DOMID_SELF, mem_type: 9, pad: [0; 2], pfn: 0x100 });
        assert_eq!(hvm_op(&mut c, HVMOP_GET_MEM_TYPE, 0), Outcome::Return(0));
        assert_eq!(c.get::<XenHvmGetMemType>(0).mem_type, HVMMEM_RAM_RW);
        assert_eq!(hvm_op(&mut c, HVMOP_ALTP2M, 0), Outcome::err(Errno::EOPNOTSUPP));
        assert_eq!(hvm_op(&mut c, HVMOP_GUEST_REQUEST_VM_EVENT, 0), Outcome::Return(0));
    }
}
