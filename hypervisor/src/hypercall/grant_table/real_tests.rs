//! GNTTABOP_* through the real hypercall path on real domains: the
//! hypervisor's frame allocator over host memory (`mm::testing`), real
//! p2m tables, grant frames and `mm::foreign`. Each test checks that the
//! free-frame count comes back exactly.

use super::*;
use crate::domain::object::Domain;
use crate::hypercall::MachineInfo;
use crate::mm::guest::GuestMemory;
use crate::mm::handle::PinnedFrame;
use crate::mm::p2m::{Format, Gfn, P2mType};
use crate::mm::{self, testing};

const ARG: u64 = 0;

/// A caller (domain `me`) with a flat argument memory, over real domains.
struct RealCaller {
    me: u16,
    mem: Vec<u8>,
    domains: Vec<Domain>,
    budget: crate::hypercall::entry::Budget,
}

impl RealCaller {
    fn new(me: u16, ids: &[u16]) -> Self {
        let domains = ids
            .iter()
            .map(|&id| {
                let mut d = Domain::new(id, false, Format::Npt, 1).expect("domain");
                d.max_pages = 16;
                for g in 0x100..0x104 {
                    d.populate(g, 0).expect("populate");
                }
                d
            })
            .collect();
        RealCaller { me, mem: vec![0; 4096], domains, budget: crate::hypercall::entry::Budget::per_exit() }
    }

    fn dom(&mut self, id: u16) -> &mut Domain {
        self.domains.iter_mut().find(|d| d.id == id).expect("domain")
    }

    fn put<T: abi::zerocopy::IntoBytes + abi::zerocopy::Immutable>(&mut self, value: &T) {
        let bytes = value.as_bytes();
        self.mem[..bytes.len()].copy_from_slice(bytes);
    }

    fn get<T: abi::zerocopy::FromBytes>(&self) -> T {
        T::read_from_prefix(&self.mem[..]).unwrap().0
    }

    /// Grant entry `gref` of `granter` gives gfn `frame` to `to`.
    fn grant(&mut self, granter: u16, gref: u32, to: u16, frame: u64, readonly: bool) {
        let flags = GTF_PERMIT_ACCESS | if readonly { GTF_READONLY } else { 0 };
        self.dom(granter).grant_entry_set(gref, u64::from(flags) | u64::from(to) << 16 | frame << 32);
    }

    fn destroy_all(mut self) {
        for id in self.domain_ids(0) {
            self.destroy_domain(id).unwrap();
        }
    }
}

impl Caller for RealCaller {
    fn domid(&self) -> u16 {
        self.me
    }
    fn vcpu_id(&self) -> u32 {
        0
    }
    fn privileged(&self) -> bool {
        false
    }
    fn compat(&self) -> bool {
        false
    }
    fn copy_from_guest(&self, gva: u64, buf: &mut [u8]) -> Result<(), Errno> {
        let at = usize::try_from(gva).map_err(|_| Errno::EFAULT)?;
        buf.copy_from_slice(self.mem.get(at..at + buf.len()).ok_or(Errno::EFAULT)?);
        Ok(())
    }
    fn copy_to_guest(&mut self, gva: u64, buf: &[u8]) -> Result<(), Errno> {
        let at = usize::try_from(gva).map_err(|_| Errno::EFAULT)?;
        self.mem.get_mut(at..at + buf.len()).ok_or(Errno::EFAULT)?.copy_from_slice(buf);
        Ok(())
    }
    fn console_write(&mut self, bytes: &[u8]) -> usize {
        bytes.len()
    }
    fn budget(&mut self) -> &mut crate::hypercall::entry::Budget {
        &mut self.budget
    }
    fn console_read(&mut self, _: &mut [u8]) -> usize {
        0
    }
    fn this(&mut self) -> &mut dyn DomainOps {
        let me = self.me;
        self.dom(me)
    }
    fn domain(&mut self, domid: u16) -> Option<&mut dyn DomainOps> {
        let id = if domid == DOMID_SELF.0 { self.me } else { domid };
        self.domains.iter_mut().find(|d| d.id == id).map(|d| d as &mut dyn DomainOps)
    }
    fn create_domain(&mut self, _: u16, _: u32, _: [u8; 16]) -> Result<u16, Errno> {
        Err(Errno::ENOSYS)
    }
    fn wait_paused(&mut self, _id: u16) -> Result<(), Errno> {
        Ok(())
    }
    fn destroy_domain(&mut self, id: u16) -> Result<(), Errno> {
        release_domain(self, id);
        let at = self.domains.iter().position(|d| d.id == id).ok_or(Errno::ESRCH)?;
        self.domains.remove(at).destroy();
        Ok(())
    }
    fn domain_ids(&self, first: u16) -> Vec<u16> {
        self.domains.iter().map(|d| d.id).filter(|&i| i >= first).collect()
    }
    fn pcpu(&self, _index: u32) -> Option<crate::hypercall::Pcpu> {
        None
    }
    fn machine(&self) -> MachineInfo<'_> {
        MachineInfo::default()
    }
    fn machine_time_ns(&self) -> u64 {
        0
    }
    fn pvclock(&self) -> abi::xen::VcpuTimeInfo {
        abi::zerocopy::FromZeros::new_zeroed()
    }
    fn read_console_ring(&mut self, _: Option<u32>, _: usize, _: bool) -> (Vec<u8>, u32) {
        (Vec::new(), 0)
    }
    fn copy_frame(&mut self, src: &PinnedFrame, src_off: usize, dst: &PinnedFrame, dst_off: usize, len: usize) -> Result<(), Errno> {
        mm::copy_between(src, src_off, dst, dst_off, len).map_err(|_| Errno::EINVAL)
    }
}

fn map(c: &mut RealCaller, dom: u16, gref: u32, flags: u32, host_gfn: u64) -> GnttabMapGrantRef {
    c.put(&GnttabMapGrantRef { host_addr: host_gfn << 12, flags, r#ref: gref, dom, status: 0x77, handle: 0xdead, dev_bus_addr: 0 });
    assert_eq!(grant_table_op(c, GNTTABOP_MAP_GRANT_REF, ARG, 1), Outcome::Return(0));
    c.get()
}

fn unmap(c: &mut RealCaller, handle: u32, host_gfn: u64) -> i16 {
    c.put(&GnttabUnmapGrantRef { host_addr: host_gfn << 12, dev_bus_addr: 0, handle, status: 0x77, _pad: 0 });
    assert_eq!(grant_table_op(c, GNTTABOP_UNMAP_GRANT_REF, ARG, 1), Outcome::Return(0));
    c.get::<GnttabUnmapGrantRef>().status
}

#[test]
fn a_domu_mapping_its_own_grant_over_the_granted_gfn_keeps_a_live_frame_until_the_unmap() {
    let _frames = testing::frames();
    let before = testing::free();
    let mut c = RealCaller::new(1, &[1]);
    let mfn = c.dom(1).p2m.translate(Gfn(0x101)).unwrap().mfn;
    c.grant(1, 3, 1, 0x101, false);
    let held = testing::free();
    let op = map(&mut c, 1, 3, GNTMAP_HOST_MAP, 0x101);
    assert_eq!(op.status, GNTST_OKAY, "Xen maps it");
    let e = c.dom(1).p2m.translate(Gfn(0x101)).unwrap();
    assert_eq!((e.p2m_type, e.mfn), (P2mType::GrantMap, mfn));
    assert_eq!(testing::free(), held, "nothing was freed: the frame is the grant mapping's now");
    assert_eq!(mm::foreign::mappings(mfn), 2, "the mapping and the active entry's pin");
    // The next frames the allocator gives (p2m tables, say) are not it.
    c.dom(1).populate(0x104, 0).unwrap();
    assert_ne!(c.dom(1).p2m.translate(Gfn(0x104)).unwrap().mfn, mfn);
    assert_eq!(unmap(&mut c, op.handle, 0x101), GNTST_OKAY);
    assert_eq!(mm::foreign::mappings(mfn), 0);
    assert_eq!(c.dom(1).grant_entry(3).unwrap() & u64::from(GTF_READING | GTF_WRITING), 0, "the pin's flags are gone");
    assert_eq!(testing::free(), held, "the unmap freed it, the new page took one");
    c.destroy_all();
    assert_eq!(testing::free(), before);
}

#[test]
fn destroying_a_domain_with_its_self_grant_still_mapped_frees_every_frame_once() {
    let _frames = testing::frames();
    let before = testing::free();
    let mut c = RealCaller::new(1, &[1]);
    c.grant(1, 3, 1, 0x102, false);
    assert_eq!(map(&mut c, 1, 3, GNTMAP_HOST_MAP, 0x102).status, GNTST_OKAY);
    assert_eq!(map(&mut c, 1, 3, GNTMAP_HOST_MAP | GNTMAP_READONLY, 0x500).status, GNTST_OKAY);
    c.destroy_all();
    assert_eq!(testing::free(), before);
    assert_eq!(mm::foreign::orphans(), 0);
}

#[test]
fn a_grant_copy_between_real_domains_moves_the_bytes_and_keeps_no_reference() {
    let _frames = testing::frames();
    let before = testing::free();
    let mut c = RealCaller::new(2, &[1, 2]);
    let src = c.dom(1).p2m.translate(Gfn(0x100)).unwrap().mfn;
    c.dom(1).write(Gfn(0x100).gpa() + 8, b"from d1").unwrap();
    c.grant(1, 7, 2, 0x100, true);
    let ptr = |u, domid, offset| GnttabCopyPtr { u, domid, offset, _pad: 0 };
    c.put(&GnttabCopy { source: ptr(7, 1, 8), dest: ptr(0x103, DOMID_SELF.0, 16), len: 7, flags: GNTCOPY_SOURCE_GREF, status: 0x77, _pad: 0 });
    assert_eq!(grant_table_op(&mut c, GNTTABOP_COPY, ARG, 1), Outcome::Return(0));
    assert_eq!(c.get::<GnttabCopy>().status, GNTST_OKAY);
    let mut got = [0u8; 7];
    c.dom(2).memory().read(Gfn(0x103).gpa() + 16, &mut got).unwrap();
    assert_eq!(&got, b"from d1");
    assert_eq!(mm::foreign::mappings(src), 0, "the copy's pins are gone");
    assert!(c.dom(1).grant.active.is_empty());
    // Into a read-only grant: refused, nothing pinned after.
    c.put(&GnttabCopy { source: ptr(0x103, DOMID_SELF.0, 0), dest: ptr(7, 1, 0), len: 8, flags: GNTCOPY_DEST_GREF, status: 0x77, _pad: 0 });
    assert_eq!(grant_table_op(&mut c, GNTTABOP_COPY, ARG, 1), Outcome::Return(0));
    assert_eq!(c.get::<GnttabCopy>().status, GNTST_GENERAL_ERROR);
    assert_eq!(mm::foreign::mappings(src), 0);
    c.destroy_all();
    assert_eq!(testing::free(), before);
}
