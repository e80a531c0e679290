//! Dom0's toolstack, `xl` in miniature: domains from xl.cfg files in the
//! boot bundle (`configs/`), built by [`builder`], listed, paused,
//! unpaused, shut down and destroyed; [`Toolstack::reap`] applies a dead
//! domain's `on_poweroff` / `on_reboot` / `on_crash` action, restarting it
//! from its config (at most [`RESTARTS_PER_WINDOW`] times in
//! [`RESTART_WINDOW_NS`], then it is left destroyed, as xl rate-limits).
//! Each DomU gets a PV console whose backend is here ([`console`]): Dom0
//! binds its event channel at creation and closes it when the domain goes;
//! [`Toolstack::attach_console`] maps its page for the shell. Each DomU's
//! store ring is served by Dom0's [`xenstored`]: the toolstack writes the
//! keys libxl writes for a PVH domain ([`store_keys`]), introduces the
//! domain before it runs, and releases it and removes its keys when it
//! goes. `shutdown` / `reboot` ask a guest that handles it through
//! `control/shutdown` as `xl` does, and shut it down hard after
//! [`SHUTDOWN_GRACE_NS`].

pub mod builder;
pub mod console;
pub mod xen;
pub mod xenstored;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use abi::domctl::{
    XEN_DOMINF_BLOCKED, XEN_DOMINF_DYING, XEN_DOMINF_PAUSED, XEN_DOMINF_RUNNING, XEN_DOMINF_SHUTDOWN,
    XEN_DOMINF_SHUTDOWNMASK, XEN_DOMINF_SHUTDOWNSHIFT, XenDomctlGetdomaininfo,
};
use abi::sched::{SHUTDOWN_CRASH, SHUTDOWN_POWEROFF, SHUTDOWN_REBOOT};
use guest_rt::start_info::StartInfo;
use toolstack::{DomainConfig, DomainState, ListEntry, ShutdownAction, ShutdownReason};

use self::console::{Attached, Console};

/// Restarts allowed within [`RESTART_WINDOW_NS`] before a crash loop stops.
pub const RESTARTS_PER_WINDOW: usize = 3;
pub const RESTART_WINDOW_NS: u64 = 10_000_000_000;
/// How long a guest asked through `control/shutdown` has before it is shut
/// down hard.
pub const SHUTDOWN_GRACE_NS: u64 = 3_000_000_000;
/// Console output kept per domain while no one is attached, as
/// xenconsoled's buffer: a guest whose ring fills would otherwise wait.
pub const CONSOLE_BACKLOG: usize = 16 << 10;

/// The foreign-mapping window (see [`Toolstack::new`]); never touched
/// while nothing is mapped there.
#[repr(C, align(4096))]
struct Window([u8; 2 << 20]);
static mut WINDOW: Window = Window([0; 2 << 20]);

/// Where an attached console's page is mapped (given back to Xen as the
/// window is), apart from the window so that a console session and the
/// builder never share a page.
#[repr(C, align(4096))]
struct ConsolePage([u8; 4096]);
static mut CONSOLE_PAGE: ConsolePage = ConsolePage([0; 4096]);

/// A domain this toolstack created: its id, config, restart history, its
/// console, its store ring and `/vm/<uuid>`, and a shutdown asked of it
/// through the store (when it is due to be forced, and with which reason).
struct Managed {
    domid: u16,
    file: String,
    config: DomainConfig,
    restarts: Vec<u64>,
    console: Console,
    store: builder::RingPage,
    uuid: String,
    shutdown_asked: Option<(u64, u32)>,
    /// The console output read while nobody was attached (its last
    /// [`CONSOLE_BACKLOG`] bytes), shown on the next `console`.
    backlog: Vec<u8>,
    /// What the builder's max_mem gave beyond `maxmem` (the special pages
    /// and the ACPI tables), kept when `mem-set` moves the limit.
    slack_kib: u64,
}

pub struct Toolstack<'a> {
    si: &'a StartInfo,
    /// 2 MiB of our physical address space for foreign mappings.
    window: u64,
    /// The page of ours an attached console is mapped at.
    console_page: u64,
    domains: Vec<Managed>,
    pub xenstored: xenstored::Xenstored,
    /// Domains created so far (the uuids' last field).
    created: u64,
    /// The free-page count before the first of the domains now alive was
    /// created; compared once they are all gone.
    baseline: Option<u64>,
    /// Domains that crashed (whatever their `on_crash` did).
    crashed: u32,
}

impl<'a> Toolstack<'a> {
    /// A toolstack over the bundle the start info lists; None without a
    /// free range for the builder's window.
    pub fn new(si: &'a StartInfo) -> Result<Toolstack<'a>, xen::XenError> {
        // As Linux's ballooned pages: 2 MiB of our own RAM given back to
        // Xen, whose addresses then show the pages of domains being built.
        // The hypervisor's tables for them stay, so building and destroying
        // domains leaves its free-page count as it was.
        let window = core::ptr::addr_of!(WINDOW) as u64;
        xen::balloon_out(window / 4096, builder::WINDOW_PAGES)?;
        let console_page = core::ptr::addr_of!(CONSOLE_PAGE) as u64;
        xen::balloon_out(console_page / 4096, 1)?;
        let xenstored = xenstored::Xenstored::new()?;
        Ok(Toolstack { si, window, console_page, domains: Vec::new(), xenstored, created: 0, baseline: None, crashed: 0 })
    }

    /// The bundle file `name`, also looked up under `configs/`.
    fn file(&self, name: &str) -> Option<guest_rt::start_info::Module> {
        self.si.module_named(name).or_else(|| self.si.module_named(&format!("configs/{name}")))
    }

    /// `xl create FILE`: parses the config, builds and starts the domain.
    pub fn create(&mut self, file: &str) -> Result<u16, String> {
        let Some(text) = self.file(file) else {
            return Err(format!("{file}: no such config in the boot bundle (see `configs/` in the repository)"));
        };
        let config = toolstack::parse(file, text.data).map_err(|e| e.to_string())?;
        if self.domains.iter().any(|d| d.config.name == config.name) {
            return Err(format!("{file}: a domain named \"{}\" exists already", config.name));
        }
        if self.domains.is_empty() {
            self.baseline = xen::physinfo().ok().map(|p| p.free_pages);
        }
        let (built, console, uuid) = self.start(file, &config)?;
        let domid = built.domid;
        let slack_kib = built.slack_kib;
        self.domains.push(Managed {
            domid,
            file: file.to_string(),
            config,
            restarts: Vec::new(),
            console,
            store: built.store,
            uuid,
            shutdown_asked: None,
            backlog: Vec::new(),
            slack_kib,
        });
        Ok(domid)
    }

    /// Builds the domain, binds our end of its console, writes its store
    /// keys, introduces it to xenstored and unpauses it.
    fn start(&mut self, file: &str, config: &DomainConfig) -> Result<(builder::Built, Console, String), String> {
        let Some(kernel) = self.si.module_named(&config.kernel) else {
            return Err(format!("{file}: kernel \"{}\" is not in the boot bundle", config.kernel));
        };
        let ramdisk = match &config.ramdisk {
            None => None,
            Some(name) => match self.si.module_named(name) {
                Some(m) => Some(m.data),
                None => return Err(format!("{file}: ramdisk \"{name}\" is not in the boot bundle")),
            },
        };
        // As libxl: the uuid is also the domain's handle (XENVER_guest_handle).
        let serial = self.created + 1;
        let uuid = format!("00000000-0000-4000-8000-{serial:012x}");
        let built = builder::build(config, &config.kernel, kernel.data, ramdisk, uuid_bytes(serial), self.window)
            .map_err(|e| format!("{file}: {e}"))?;
        let domid = built.domid;
        let console = match pin(domid, config).and_then(|()| Console::bind(domid, built.console.gfn, built.console.port)) {
            Ok(c) => c,
            Err(e) => {
                let _ = xen::destroy_domain(domid);
                return Err(format!("{file}: {e}"));
            }
        };
        self.created = serial;
        let keys = store_keys(domid, config, &uuid, &built, &console);
        let introduced = self.write_keys(&keys).and_then(|()| self.xenstored.introduce(domid, built.store.gfn, built.store.port));
        let started = introduced.and_then(|()| xen::unpause_domain(domid).map_err(|e| e.to_string()));
        match started {
            Ok(()) => Ok((built, console, uuid)),
            Err(e) => {
                console.unbind();
                self.xenstored.release(domid);
                self.remove_keys(domid, &uuid);
                let _ = xen::destroy_domain(domid);
                Err(format!("{file}: {e}"))
            }
        }
    }

    fn write_keys(&mut self, keys: &[StoreKey]) -> Result<(), String> {
        let store = &mut self.xenstored.store;
        for k in keys {
            let failed = |e: xenstore::Error| format!("xenstore: {}: {}", k.path, e.name());
            store.write_str(&k.path, &k.value).map_err(failed)?;
            let perms: Vec<&str> = k.perms.iter().map(String::as_str).collect();
            store.set_perms_str(&k.path, &perms).map_err(failed)?;
        }
        Ok(())
    }

    fn remove_keys(&mut self, domid: u16, uuid: &str) {
        let store = &mut self.xenstored.store;
        let _ = store.rm(&xenstore::path::domain_path(domid));
        let _ = store.rm(&format!("/vm/{uuid}"));
    }

    /// Destroys the domain at `at` in our list and forgets it.
    fn remove(&mut self, at: usize) -> Managed {
        let _ = xen::destroy_domain(self.domains[at].domid);
        self.forget(at)
    }

    /// Takes the (destroyed) domain at `at` off our list, closes our end
    /// of its console, releases it from xenstored and removes its keys.
    fn forget(&mut self, at: usize) -> Managed {
        let d = self.domains.remove(at);
        d.console.unbind();
        self.xenstored.release(d.domid);
        self.remove_keys(d.domid, &d.uuid);
        d
    }

    /// A domain by name or id: its id.
    pub fn find(&self, which: &str) -> Option<u16> {
        if let Some(d) = self.domains.iter().find(|d| d.config.name == which) {
            return Some(d.domid);
        }
        let id: u16 = which.parse().ok()?;
        xen::domain_infos().ok()?.iter().any(|i| i.domain.0 == id).then_some(id)
    }

    /// Whether the console output of `domid` not yet shown by `console`
    /// contains `text` (as drained by [`reap`](Toolstack::reap)).
    pub fn console_shows(&self, domid: u16, text: &str) -> bool {
        self.domains.iter().find(|d| d.domid == domid).is_some_and(|d| d.backlog.windows(text.len().max(1)).any(|w| w == text.as_bytes()))
    }

    fn name_of(&self, domid: u16) -> String {
        match self.domains.iter().find(|d| d.domid == domid) {
            Some(d) => d.config.name.clone(),
            None if domid == 0 => "Domain-0".to_string(),
            None => format!("(domain {domid})"),
        }
    }

    fn resolve(&self, which: &str) -> Result<u16, String> {
        match self.find(which) {
            Some(0) => Err("Domain-0 cannot be changed from here".to_string()),
            Some(id) => Ok(id),
            None => Err(format!("{which}: no such domain")),
        }
    }

    /// `xl destroy`: the domain and every resource it held go.
    pub fn destroy(&mut self, which: &str) -> Result<(), String> {
        let domid = self.resolve(which)?;
        xen::destroy_domain(domid).map_err(|e| e.to_string())?;
        if let Some(at) = self.domains.iter().position(|d| d.domid == domid) {
            self.forget(at);
        }
        Ok(())
    }

    pub fn pause(&self, which: &str) -> Result<(), String> {
        xen::pause_domain(self.resolve(which)?).map_err(|e| e.to_string())
    }

    pub fn unpause(&self, which: &str) -> Result<(), String> {
        xen::unpause_domain(self.resolve(which)?).map_err(|e| e.to_string())
    }

    /// `xl shutdown` / `xl reboot`: a guest that said it handles
    /// `control/shutdown` (its `control/feature-poweroff` or
    /// `feature-reboot` is "1") is asked there with `poweroff` or `reboot`,
    /// as xl does, and [`Self::reap`] shuts it down hard with that reason
    /// if it has not done so within [`SHUTDOWN_GRACE_NS`]; any other is
    /// shut down at once (xl's `-F` fallback). Its on_poweroff /
    /// on_reboot action follows. Says which it was.
    pub fn shutdown(&mut self, which: &str, reboot: bool) -> Result<String, String> {
        let reason = if reboot { SHUTDOWN_REBOOT } else { SHUTDOWN_POWEROFF };
        let domid = self.resolve(which)?;
        let home = xenstore::path::domain_path(domid);
        let feature = if reboot { "feature-reboot" } else { "feature-poweroff" };
        let pv_control = self.domains.iter().any(|d| d.domid == domid)
            && self.xenstored.store.read(&format!("{home}/control/{feature}")).is_ok_and(|v| v == b"1");
        if !pv_control {
            xen::remote_shutdown(domid, reason).map_err(|e| e.to_string())?;
            return Ok(format!("no PV control interface (control/{feature} unset): shut down at once"));
        }
        let key = format!("{home}/control/shutdown");
        let what = if reboot { "reboot" } else { "poweroff" };
        self.xenstored.store.write_str(&key, what).map_err(|e| format!("xenstore: {key}: {}", e.name()))?;
        if let Some(d) = self.domains.iter_mut().find(|d| d.domid == domid) {
            d.shutdown_asked = Some((guest_rt::timer::now_ns() + SHUTDOWN_GRACE_NS, reason));
        }
        self.xenstored.poll();
        Ok(format!("asked through control/shutdown ({what})"))
    }

    /// `xl sched-credit2`: with no domain, the pool's rate limit and every
    /// domain's weight and cap; with one, its row after setting `weight` /
    /// `cap` if given (xl's `-d NAME -w W -c C`).
    pub fn sched_credit2(&self, which: Option<&str>, weight: Option<u16>, cap: Option<u16>) -> Result<String, String> {
        let err = |e: xen::XenError| e.to_string();
        let ids: Vec<u16> = match which {
            Some(w) => {
                let id = self.find(w).ok_or_else(|| format!("{w}: no such domain"))?;
                if weight.is_some() || cap.is_some() {
                    // Weight 0 leaves it alone; the cap must be given to change.
                    let cap = match cap {
                        Some(c) => c,
                        None => xen::credit2(id).map_err(err)?.1,
                    };
                    xen::set_credit2(id, weight.unwrap_or(0), cap).map_err(err)?;
                }
                alloc::vec![id]
            }
            None => xen::domain_infos().map_err(err)?.iter().map(|i| i.domain.0).collect(),
        };
        let names: Vec<String> = ids.iter().map(|&id| self.name_of(id)).collect();
        let mut rows = Vec::new();
        for (&domid, name) in ids.iter().zip(&names) {
            let (weight, cap) = xen::credit2(domid).map_err(err)?;
            rows.push(toolstack::sched::Credit2Row { name, domid, weight, cap });
        }
        let ratelimit = if which.is_none() { Some(xen::credit2_ratelimit_us().map_err(err)?) } else { None };
        Ok(toolstack::sched::format_credit2(ratelimit, &rows))
    }

    /// `xl vcpu-list [NAME]`: every vCPU of every domain (or of one).
    pub fn vcpu_list(&self, which: Option<&str>) -> Result<String, String> {
        let err = |e: xen::XenError| e.to_string();
        let nr_cpus = xen::physinfo().map_err(err)?.nr_cpus;
        let only = match which {
            Some(w) => Some(self.find(w).ok_or_else(|| format!("{w}: no such domain"))?),
            None => None,
        };
        let infos: Vec<XenDomctlGetdomaininfo> =
            xen::domain_infos().map_err(err)?.into_iter().filter(|i| only.is_none_or(|id| id == i.domain.0)).collect();
        let names: Vec<String> = infos.iter().map(|i| self.name_of(i.domain.0)).collect();
        let mut rows = Vec::new();
        for (i, name) in infos.iter().zip(&names) {
            let domid = i.domain.0;
            for vcpu in 0..=i.max_vcpu_id {
                let v = xen::vcpu_info(domid, vcpu).map_err(err)?;
                let (hard, soft) = xen::affinity(domid, vcpu).map_err(err)?;
                rows.push(toolstack::sched::VcpuRow {
                    name,
                    domid,
                    vcpu,
                    online: v.online != 0,
                    running: v.running != 0,
                    blocked: v.blocked != 0,
                    cpu: v.cpu,
                    cpu_time_ns: v.cpu_time,
                    hard,
                    soft,
                });
            }
        }
        Ok(String::from(toolstack::sched::format_vcpu_list(&rows, nr_cpus).trim_end()))
    }

    /// `xl vcpu-pin NAME VCPU|all HARD [SOFT]` (`-`: that one unchanged).
    pub fn vcpu_pin(&self, which: &str, vcpu: &str, hard: &str, soft: Option<&str>) -> Result<String, String> {
        use toolstack::sched::Vcpus;
        let domid = self.find(which).ok_or_else(|| format!("{which}: no such domain"))?;
        let (vcpus, hard, soft) = toolstack::sched::parse_vcpu_pin(vcpu, hard, soft)?;
        let infos = xen::domain_infos().map_err(|e| e.to_string())?;
        let max_id = infos.iter().find(|i| i.domain.0 == domid).map_or(0, |i| i.max_vcpu_id);
        let list: Vec<u32> = match vcpus {
            Vcpus::All => (0..=max_id).collect(),
            Vcpus::One(v) => alloc::vec![v],
        };
        for &v in &list {
            xen::set_affinity(domid, v, hard.map(|m| m.0), soft.map(|m| m.0)).map_err(|e| format!("vCPU {v}: {e}"))?;
        }
        Ok(format!("pinned {} vCPU(s) of domain {domid}", list.len()))
    }

    /// The `memory` (MiB) domain `which` was created with.
    pub fn memory_mib(&self, which: &str) -> Option<u64> {
        let domid = self.find(which)?;
        self.domains.iter().find(|d| d.domid == domid).map(|d| d.config.memory_mib)
    }

    /// `xl mem-set NAME MiB`: the domain's balloon driver is asked for
    /// `mib` MiB through `memory/target` (KiB), and, as xl's enforcing
    /// libxl_set_memory_target, its limit becomes that plus the slack it
    /// was built with plus LIBXL_MAXMEM_CONSTANT (1 MiB); no more than its
    /// `maxmem`.
    pub fn mem_set(&mut self, which: &str, mib: u64) -> Result<String, String> {
        const LIBXL_MAXMEM_CONSTANT_KIB: u64 = 1024;
        let domid = self.resolve(which)?;
        let Some(d) = self.domains.iter().find(|d| d.domid == domid) else {
            return Err(format!("domain {domid} was not created by this toolstack: its memory is unknown"));
        };
        if mib == 0 || mib > d.config.maxmem_mib {
            return Err(format!("{mib} MiB: {} takes 1 to {} MiB (its maxmem)", d.config.name, d.config.maxmem_mib));
        }
        let target_kib = mib << 10;
        xen::max_mem(domid, target_kib + d.slack_kib + LIBXL_MAXMEM_CONSTANT_KIB).map_err(|e| e.to_string())?;
        let key = format!("{}/memory/target", xenstore::path::domain_path(domid));
        self.xenstored.store.write_str(&key, &format!("{target_kib}")).map_err(|e| format!("xenstore: {key}: {}", e.name()))?;
        self.xenstored.poll();
        Ok(format!("memory/target = {target_kib} KiB"))
    }

    /// `xl vcpu-set NAME N`: vCPUs 0..N are online, the rest up to
    /// `maxvcpus` offline, through each `cpu/<i>/availability` (libxl's
    /// `libxl_set_vcpuonline` for PV and PVH guests: the guest's own
    /// cpu-hotplug watch acts on it).
    pub fn vcpu_set(&mut self, which: &str, online: u32) -> Result<String, String> {
        let domid = self.resolve(which)?;
        let Some(d) = self.domains.iter().find(|d| d.domid == domid) else {
            return Err(format!("domain {domid} was not created by this toolstack: its vCPUs are unknown"));
        };
        let max = d.config.maxvcpus;
        if online == 0 || online > max {
            return Err(format!("{online} vCPUs: {} takes 1 to {max} (its maxvcpus)", d.config.name));
        }
        let home = xenstore::path::domain_path(domid);
        for i in 0..max {
            let key = format!("{home}/cpu/{i}/availability");
            let value = if i < online { "online" } else { "offline" };
            self.xenstored.store.write_str(&key, value).map_err(|e| format!("xenstore: {key}: {}", e.name()))?;
        }
        self.xenstored.poll();
        Ok(format!("{} of {max} vCPUs online", online))
    }

    /// Forces the shutdowns asked through the store that are overdue; one
    /// line for each.
    fn force_overdue_shutdowns(&mut self, said: &mut Vec<String>) {
        let now = guest_rt::timer::now_ns();
        for d in &mut self.domains {
            let Some((due, reason)) = d.shutdown_asked else { continue };
            if now < due {
                continue;
            }
            d.shutdown_asked = None;
            let r = xen::remote_shutdown(d.domid, reason);
            said.push(format!(
                "xl: {} (d{}) did not shut down within {} s of control/shutdown: shutting it down hard{}",
                d.config.name,
                d.domid,
                SHUTDOWN_GRACE_NS / 1_000_000_000,
                r.err().map(|e| format!(" failed: {e}")).unwrap_or_default()
            ));
        }
    }

    /// Waits `ms` milliseconds serving the store rings whenever one of them
    /// notifies us (and every 20 ms anyway, for rings that do not).
    pub fn wait(&mut self, timer: &guest_rt::timer::Timer, ms: u64) -> Result<(), guest_rt::timer::Failed> {
        let deadline = guest_rt::timer::now_ns() + ms * 1_000_000;
        loop {
            self.xenstored.poll();
            let now = guest_rt::timer::now_ns();
            if now >= deadline {
                return Ok(());
            }
            let left_ms = (deadline - now).div_ceil(1_000_000).min(20);
            let ports = self.xenstored.ports();
            timer.wait_ms(left_ms, &ports)?;
        }
    }

    /// `xl list`.
    pub fn list(&self) -> Result<String, String> {
        let infos = xen::domain_infos().map_err(|e| e.to_string())?;
        let names: Vec<String> = infos.iter().map(|i| self.name_of(i.domain.0)).collect();
        let entries: Vec<ListEntry> = infos
            .iter()
            .zip(&names)
            .map(|(i, name)| ListEntry {
                name,
                domid: i.domain.0,
                mem_kib: i.tot_pages * 4,
                vcpus_online: i.nr_online_vcpus,
                state: state(i),
                cpu_time_ns: i.cpu_time,
            })
            .collect();
        Ok(toolstack::format_list(&entries))
    }

    /// Applies the configured action to every domain that shut down;
    /// returns one line per action taken.
    pub fn reap(&mut self) -> Vec<String> {
        let mut said = Vec::new();
        self.xenstored.poll();
        self.drain_consoles();
        self.force_overdue_shutdowns(&mut said);
        let Ok(infos) = xen::domain_infos() else { return said };
        let now = guest_rt::timer::now_ns();
        for info in infos.iter().filter(|i| i.flags & XEN_DOMINF_SHUTDOWN != 0) {
            let Some(at) = self.domains.iter().position(|d| d.domid == info.domain.0) else { continue };
            let reason = (info.flags >> XEN_DOMINF_SHUTDOWNSHIFT) & XEN_DOMINF_SHUTDOWNMASK;
            let d = &self.domains[at];
            let (what, action) = match reason {
                SHUTDOWN_POWEROFF => ("powered off", d.config.on_poweroff),
                SHUTDOWN_REBOOT => ("rebooted", d.config.on_reboot),
                SHUTDOWN_CRASH => {
                    self.crashed += 1;
                    ("crashed", d.config.on_crash)
                }
                _ => ("shut down", d.config.on_poweroff),
            };
            let name = d.config.name.clone();
            let domid = d.domid;
            match action {
                ShutdownAction::Preserve => continue,
                ShutdownAction::Destroy => {
                    self.remove(at);
                    said.push(format!("xl: {name} (d{domid}) {what}: destroyed"));
                }
                ShutdownAction::Restart => {
                    let mut d = self.remove(at);
                    d.restarts.retain(|&t| now.saturating_sub(t) < RESTART_WINDOW_NS);
                    if d.restarts.len() >= RESTARTS_PER_WINDOW {
                        said.push(format!(
                            "xl: {name} (d{domid}) {what}: restarted {RESTARTS_PER_WINDOW} times within {} s; not restarting it again",
                            RESTART_WINDOW_NS / 1_000_000_000
                        ));
                        continue;
                    }
                    d.restarts.push(now);
                    match self.start(&d.file, &d.config) {
                        Ok((built, console, uuid)) => {
                            let new = built.domid;
                            said.push(format!("xl: {name} (d{domid}) {what}: restarted as d{new}"));
                            (d.domid, d.console, d.store, d.uuid, d.shutdown_asked) = (new, console, built.store, uuid, None);
                            d.backlog.clear();
                            self.domains.push(d);
                        }
                        Err(e) => said.push(format!("xl: {name} (d{domid}) {what}: restart failed: {e}")),
                    }
                }
            }
        }
        self.compare_baseline(&mut said);
        said
    }

    /// Once every domain is gone: whether the free-page count is back
    /// exactly where it was before the first of them was created.
    fn compare_baseline(&mut self, said: &mut Vec<String>) {
        if !self.domains.is_empty() {
            return;
        }
        let Some(before) = self.baseline.take() else { return };
        let Ok(after) = xen::physinfo().map(|p| p.free_pages) else { return };
        let verdict = if after == before { "as before" } else { "NOT as before" };
        said.push(format!("xl: every domain is gone: {after} free pages, {verdict} the first was created ({before})"));
    }

    /// Whether this toolstack created a domain and every one is gone.
    pub fn all_gone(&self) -> bool {
        self.created > 0 && self.domains.is_empty()
    }

    /// How many domains crashed so far.
    pub fn crashed(&self) -> u32 {
        self.crashed
    }

    /// Destroys every domain this toolstack created.
    pub fn destroy_all(&mut self) {
        for d in core::mem::take(&mut self.domains) {
            let _ = xen::destroy_domain(d.domid);
            d.console.unbind();
            self.xenstored.release(d.domid);
            self.remove_keys(d.domid, &d.uuid);
        }
    }

    /// `xl console`: maps the console page of the domain `which` names;
    /// unmapped when the [`Attached`] is dropped. Also its name.
    /// Reads every domain's pending console output into its backlog (the
    /// page mapped at our console page for the time of it; never while a
    /// `console` session holds that page, which does not reap).
    fn drain_consoles(&mut self) {
        let mut buf = [0u8; abi::io::console::XENCONS_OUT_SIZE as usize];
        for d in &mut self.domains {
            let Ok(attached) = Attached::map(d.console, self.console_page) else { continue };
            while let Ok(n @ 1..) = attached.read(&mut buf) {
                d.backlog.extend_from_slice(&buf[..n]);
            }
            drop(attached);
            let over = d.backlog.len().saturating_sub(CONSOLE_BACKLOG);
            d.backlog.drain(..over);
        }
    }

    /// `xl console`: the domain's console page mapped, its name, and the
    /// output it wrote while nobody was attached.
    pub fn attach_console(&mut self, which: &str) -> Result<(Attached, String, Vec<u8>), String> {
        let domid = match self.find(which) {
            Some(0) => return Err("Domain-0's console is the hypervisor's: COM1, and `dmesg` here".to_string()),
            Some(id) => id,
            None => return Err(format!("{which}: no such domain")),
        };
        let Some(d) = self.domains.iter_mut().find(|d| d.domid == domid) else {
            return Err(format!("domain {domid} was not created by this toolstack: its console is unknown"));
        };
        let attached = Attached::map(d.console, self.console_page).map_err(|e| e.to_string())?;
        Ok((attached, d.config.name.clone(), core::mem::take(&mut d.backlog)))
    }

    /// Whether `domid` still runs: it exists and has neither shut down nor
    /// started dying.
    pub fn running(&self, domid: u16) -> bool {
        let Ok(infos) = xen::domain_infos() else { return false };
        infos
            .iter()
            .any(|i| i.domain.0 == domid && i.flags & (XEN_DOMINF_SHUTDOWN | XEN_DOMINF_DYING) == 0)
    }
}

/// The mask `aff` gives `vcpu` (None: that vCPU is not named).
fn mask_for(aff: Option<&toolstack::Affinity>, vcpu: u32) -> Option<u64> {
    match aff? {
        toolstack::Affinity::AllVcpus(m) => Some(m.0),
        toolstack::Affinity::PerVcpu(list) => list.get(vcpu as usize).map(|m| m.0),
    }
}

/// Applies `cpus=` (hard affinity) and `cpus_soft=` (soft) per vCPU, as
/// libxl does with XEN_DOMCTL_setvcpuaffinity, then `cpu_weight` and `cap`
/// with credit2's XEN_DOMCTL_scheduler_op putinfo: always, defaults too,
/// so the hypervisor holds exactly the config's values (one call).
fn pin(domid: u16, config: &DomainConfig) -> Result<(), xen::XenError> {
    for vcpu in 0..config.maxvcpus {
        let hard = mask_for(config.cpus.as_ref(), vcpu);
        let soft = mask_for(config.cpus_soft.as_ref(), vcpu);
        if hard.is_some() || soft.is_some() {
            xen::set_affinity(domid, vcpu, hard, soft)?;
        }
    }
    // The parser bounds cap by 100 × maxvcpus <= 12800.
    let cap = u16::try_from(config.cpu_cap).unwrap_or(u16::MAX);
    xen::set_credit2(domid, config.cpu_weight, cap)
}

fn state(i: &XenDomctlGetdomaininfo) -> DomainState {
    let flag = |f| i.flags & f != 0;
    DomainState {
        running: flag(XEN_DOMINF_RUNNING),
        blocked: flag(XEN_DOMINF_BLOCKED),
        paused: flag(XEN_DOMINF_PAUSED),
        shutdown: flag(XEN_DOMINF_SHUTDOWN)
            .then(|| ShutdownReason::from_code((i.flags >> XEN_DOMINF_SHUTDOWNSHIFT) & XEN_DOMINF_SHUTDOWNMASK)),
        dying: flag(XEN_DOMINF_DYING),
    }
}

/// The bytes of uuid `00000000-0000-4000-8000-<serial as 12 hex digits>`.
fn uuid_bytes(serial: u64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[6] = 0x40;
    b[8] = 0x80;
    b[10..].copy_from_slice(&serial.to_be_bytes()[2..]);
    b
}

/// One store key the toolstack writes: path, value, permissions.
pub struct StoreKey {
    pub path: String,
    pub value: String,
    pub perms: Vec<String>,
}

/// The keys libxl writes for a new PVH domain: its home
/// `/local/domain/N` and `/vm/<uuid>` readable by the domain, the
/// directories it writes to (`data`, `device`, `control/shutdown`, ...)
/// owned by it, the rest Dom0's.
pub fn store_keys(domid: u16, config: &DomainConfig, uuid: &str, built: &builder::Built, console: &Console) -> Vec<StoreKey> {
    let home = xenstore::path::domain_path(domid);
    let vm = format!("/vm/{uuid}");
    let ro = || alloc::vec![String::from("n0"), format!("r{domid}")];
    let rw = || alloc::vec![format!("n{domid}")];
    let key = |path: String, value: String, perms: Vec<String>| StoreKey { path, value, perms };
    let mut keys = alloc::vec![
        key(home.clone(), String::new(), ro()),
        key(vm.clone(), String::new(), ro()),
        key(format!("{vm}/uuid"), uuid.to_string(), ro()),
        key(format!("{vm}/name"), config.name.clone(), ro()),
        key(format!("{home}/vm"), vm, ro()),
        key(format!("{home}/name"), config.name.clone(), ro()),
        key(format!("{home}/domid"), format!("{domid}"), ro()),
        key(format!("{home}/control"), String::new(), ro()),
        key(format!("{home}/control/shutdown"), String::new(), rw()),
        key(format!("{home}/control/feature-poweroff"), String::new(), rw()),
        key(format!("{home}/control/feature-reboot"), String::new(), rw()),
        key(format!("{home}/control/feature-suspend"), String::new(), rw()),
        key(format!("{home}/control/platform-feature-multiprocessor-suspend"), String::from("1"), ro()),
        key(format!("{home}/control/platform-feature-xs_reset_watches"), String::from("1"), ro()),
        key(format!("{home}/control/sysrq"), String::new(), rw()),
        key(format!("{home}/memory"), String::new(), ro()),
        key(format!("{home}/memory/static-max"), format!("{}", config.maxmem_mib << 10), ro()),
        key(format!("{home}/memory/target"), format!("{}", config.memory_mib << 10), ro()),
        key(format!("{home}/memory/videoram"), String::from("-1"), ro()),
        key(format!("{home}/console"), String::new(), ro()),
        key(format!("{home}/console/port"), format!("{}", console.remote_port), ro()),
        key(format!("{home}/console/ring-ref"), format!("{}", built.console.gfn), ro()),
        key(format!("{home}/console/type"), String::from("xenconsoled"), ro()),
        key(format!("{home}/console/limit"), String::from("1048576"), ro()),
        key(format!("{home}/store"), String::new(), ro()),
        key(format!("{home}/store/port"), format!("{}", built.store.port), ro()),
        key(format!("{home}/store/ring-ref"), format!("{}", built.store.gfn), ro()),
        key(format!("{home}/cpu"), String::new(), ro()),
    ];
    for i in 0..config.maxvcpus {
        let online = if i < config.vcpus { "online" } else { "offline" };
        keys.push(key(format!("{home}/cpu/{i}"), String::new(), ro()));
        keys.push(key(format!("{home}/cpu/{i}/availability"), String::from(online), ro()));
    }
    for dir in ["data", "device", "drivers", "attr", "error", "feature", "messages"] {
        keys.push(key(format!("{home}/{dir}"), String::new(), rw()));
    }
    keys
}
