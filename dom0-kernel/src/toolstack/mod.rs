//! Dom0's toolstack, `xl` in miniature: domains from xl.cfg files in the
//! boot bundle (`configs/`), built by [`builder`], listed, paused,
//! unpaused, shut down and destroyed; [`Toolstack::reap`] applies a dead
//! domain's `on_poweroff` / `on_reboot` / `on_crash` action, restarting it
//! from its config (at most [`RESTARTS_PER_WINDOW`] times in
//! [`RESTART_WINDOW_NS`], then it is left destroyed, as xl rate-limits).
//! Each DomU gets a PV console whose backend is here ([`console`]): Dom0
//! binds its event channel at creation and closes it when the domain goes;
//! [`Toolstack::attach_console`] maps its page for the shell.

pub mod builder;
pub mod console;
pub mod xen;

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
/// console and its (unserved: no xenstored) store ring.
struct Managed {
    domid: u16,
    file: String,
    config: DomainConfig,
    restarts: Vec<u64>,
    console: Console,
    #[allow(dead_code, reason = "kept for a xenstored to come; `xl` knows it too")]
    store: builder::RingPage,
}

pub struct Toolstack<'a> {
    si: &'a StartInfo,
    /// 2 MiB of our physical address space for foreign mappings.
    window: u64,
    /// The page of ours an attached console is mapped at.
    console_page: u64,
    domains: Vec<Managed>,
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
        Ok(Toolstack { si, window, console_page, domains: Vec::new() })
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
        let (built, console) = self.start(file, &config)?;
        let domid = built.domid;
        self.domains.push(Managed {
            domid,
            file: file.to_string(),
            config,
            restarts: Vec::new(),
            console,
            store: built.store,
        });
        Ok(domid)
    }

    /// Builds the domain, binds our end of its console and unpauses it.
    fn start(&self, file: &str, config: &DomainConfig) -> Result<(builder::Built, Console), String> {
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
        let built = builder::build(config, &config.kernel, kernel.data, ramdisk, self.window).map_err(|e| format!("{file}: {e}"))?;
        let domid = built.domid;
        let started = pin(domid, config).and_then(|()| Console::bind(domid, built.console.gfn, built.console.port)).and_then(|console| {
            xen::unpause_domain(domid).inspect_err(|_| console.unbind())?;
            Ok(console)
        });
        match started {
            Ok(console) => Ok((built, console)),
            Err(e) => {
                let _ = xen::destroy_domain(domid);
                Err(format!("{file}: {e}"))
            }
        }
    }

    /// Destroys the domain at `at` in our list and forgets it.
    fn remove(&mut self, at: usize) -> Managed {
        let _ = xen::destroy_domain(self.domains[at].domid);
        self.forget(at)
    }

    /// Takes the (destroyed) domain at `at` off our list and closes our
    /// end of its console.
    fn forget(&mut self, at: usize) -> Managed {
        let d = self.domains.remove(at);
        d.console.unbind();
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

    /// `xl shutdown` / `xl reboot`: the domain stops with that reason; its
    /// on_poweroff / on_reboot action follows at the next [`Self::reap`].
    pub fn shutdown(&self, which: &str, reboot: bool) -> Result<(), String> {
        let reason = if reboot { SHUTDOWN_REBOOT } else { SHUTDOWN_POWEROFF };
        xen::remote_shutdown(self.resolve(which)?, reason).map_err(|e| e.to_string())
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
        let Ok(infos) = xen::domain_infos() else { return said };
        let now = guest_rt::timer::now_ns();
        for info in infos.iter().filter(|i| i.flags & XEN_DOMINF_SHUTDOWN != 0) {
            let Some(at) = self.domains.iter().position(|d| d.domid == info.domain.0) else { continue };
            let reason = (info.flags >> XEN_DOMINF_SHUTDOWNSHIFT) & XEN_DOMINF_SHUTDOWNMASK;
            let d = &self.domains[at];
            let (what, action) = match reason {
                SHUTDOWN_POWEROFF => ("powered off", d.config.on_poweroff),
                SHUTDOWN_REBOOT => ("rebooted", d.config.on_reboot),
                SHUTDOWN_CRASH => ("crashed", d.config.on_crash),
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
                        Ok((built, console)) => {
                            let new = built.domid;
                            said.push(format!("xl: {name} (d{domid}) {what}: restarted as d{new}"));
                            (d.domid, d.console, d.store) = (new, console, built.store);
                            self.domains.push(d);
                        }
                        Err(e) => said.push(format!("xl: {name} (d{domid}) {what}: restart failed: {e}")),
                    }
                }
            }
        }
        said
    }

    /// Destroys every domain this toolstack created.
    pub fn destroy_all(&mut self) {
        for d in core::mem::take(&mut self.domains) {
            let _ = xen::destroy_domain(d.domid);
            d.console.unbind();
        }
    }

    /// `xl console`: maps the console page of the domain `which` names;
    /// unmapped when the [`Attached`] is dropped. Also its name.
    pub fn attach_console(&self, which: &str) -> Result<(Attached, String), String> {
        let domid = match self.find(which) {
            Some(0) => return Err("Domain-0's console is the hypervisor's: COM1, and `dmesg` here".to_string()),
            Some(id) => id,
            None => return Err(format!("{which}: no such domain")),
        };
        let Some(d) = self.domains.iter().find(|d| d.domid == domid) else {
            return Err(format!("domain {domid} was not created by this toolstack: its console is unknown"));
        };
        let attached = Attached::map(d.console, self.console_page).map_err(|e| e.to_string())?;
        Ok((attached, d.config.name.clone()))
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

/// Applies `cpus=` (hard affinity). `cpu_weight` / `cpu_cap` have nothing
/// to set: the hypervisor runs Xen's null scheduler model, which has no
/// parameters (XEN_DOMCTL_scheduler_op accepts and ignores them).
fn pin(domid: u16, config: &DomainConfig) -> Result<(), xen::XenError> {
    for vcpu in 0..config.maxvcpus {
        let mask = match &config.cpus {
            None => continue,
            Some(toolstack::Affinity::AllVcpus(m)) => m.0,
            Some(toolstack::Affinity::PerVcpu(list)) => match list.get(vcpu as usize) {
                Some(m) => m.0,
                None => continue,
            },
        };
        xen::set_hard_affinity(domid, vcpu, mask)?;
    }
    Ok(())
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
