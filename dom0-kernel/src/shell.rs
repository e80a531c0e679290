//! Dom0's shell on COM2: one command per line, one answer (or one error
//! line) back, `xl`'s verbs. Polled: between keystrokes Dom0 sleeps on its
//! timer in 20 ms steps and reaps dead domains.
//!
//! Commands: `list`, `create FILE`, `destroy NAME|ID`, `shutdown NAME|ID`,
//! `reboot NAME|ID`, `pause NAME|ID`, `unpause NAME|ID`, `console NAME|ID`,
//! `info`, `dmesg`, `help`, and `poweroff` (every DomU is destroyed and the
//! machine powers off with Dom0); scheduling as xl spells it:
//! `sched-credit2 [-d NAME|ID [-w WEIGHT] [-c CAP]]`, `vcpu-list [NAME|ID]`,
//! `vcpu-pin NAME|ID VCPU|all HARD [SOFT]` (CPULISTs, `-` leaves one as it
//! is); the store's as Dom0 sees it:
//! `xenstore-ls [PATH]`, `xenstore-read PATH`, `xenstore-write PATH VALUE`,
//! `xenstore-rm PATH`, `xenstore-watch PATH` (events until a key is
//! pressed). `shutdown` / `reboot` ask the guest through its
//! `control/shutdown` first (see the toolstack).
//!
//! `console` is `xl console`: the DomU's PV console ring is mapped, what
//! waits in it is printed, then its output keeps coming (polled every
//! 20 ms) and keystrokes go to the guest's input ring, until Ctrl-]
//! detaches or the domain stops running.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use guest_rt::cpu;
use guest_rt::timer::Timer;

use crate::toolstack::{Toolstack, xen};

/// COM2's I/O ports (a 16550 UART): data, interrupt enable, FIFO control,
/// line control, modem control, line status.
const COM2: u16 = 0x2f8;
const LSR_DATA_READY: u8 = 1 << 0;
const LSR_THR_EMPTY: u8 = 1 << 5;
const LINE_MAX: usize = 200;
/// Ctrl-]: leaves a console, as in `xl console`.
const DETACH: u8 = 0x1d;
/// How often an attached console checks that its domain still runs.
const ALIVE_CHECK_MS: u64 = 500;

const HELP: &str = "commands: list | create FILE | destroy NAME|ID | shutdown NAME|ID | reboot NAME|ID | pause NAME|ID | unpause NAME|ID | console NAME|ID | mem-set NAME|ID MiB | vcpu-set NAME|ID N | sched-credit2 [-d NAME|ID [-w WEIGHT] [-c CAP]] | vcpu-list [NAME|ID] | vcpu-pin NAME|ID VCPU|all HARD [SOFT] | info | dmesg | xenstore-ls [PATH] | xenstore-read PATH | xenstore-write PATH VALUE | xenstore-rm PATH | xenstore-watch PATH | poweroff | help";

pub struct Com2;

impl Com2 {
    /// 115200 8N1, FIFOs on, no interrupts (the shell polls).
    fn init() -> Com2 {
        // SAFETY: COM2's ports are Dom0's (the hypervisor passes them through); these writes only program that UART.
        unsafe {
            cpu::outb(COM2 + 1, 0x00);
            cpu::outb(COM2 + 3, 0x80);
            cpu::outb(COM2, 0x01);
            cpu::outb(COM2 + 1, 0x00);
            cpu::outb(COM2 + 3, 0x03);
            cpu::outb(COM2 + 2, 0xc7);
            cpu::outb(COM2 + 4, 0x03);
        }
        Com2
    }

    pub fn read(&self) -> Option<u8> {
        // SAFETY: reading COM2's line status and data registers has no effect beyond the UART.
        let lsr = unsafe { cpu::inb(COM2 + 5) };
        // All ones: no UART answers there (the keyboard never has data).
        if lsr == 0xff || lsr & LSR_DATA_READY == 0 {
            return None;
        }
        // SAFETY: as above.
        Some(unsafe { cpu::inb(COM2) })
    }

    fn write(&self, bytes: &[u8]) {
        for &b in bytes {
            if b == b'\n' {
                self.put(b'\r');
            }
            self.put(b);
        }
    }

    fn put(&self, b: u8) {
        // SAFETY: as in `read`; the loop waits for room in the transmitter.
        unsafe {
            while cpu::inb(COM2 + 5) & LSR_THR_EMPTY == 0 {
                core::hint::spin_loop();
            }
            cpu::outb(COM2, b);
        }
    }

    pub fn say(&self, text: &str) {
        self.write(text.as_bytes());
        self.write(b"\n");
    }
}

/// Runs the shell until `poweroff`.
/// With `until_gone`, returns once every domain created is gone.
pub fn run(ts: &mut Toolstack, timer: &Timer, until_gone: bool) {
    let com2 = Com2::init();
    com2.say("Dom0 shell (xl-style); `help` lists the commands");
    com2.write(b"xl> ");
    let mut line = String::new();
    let mut idle_ms = 0u64;
    loop {
        let Some(b) = com2.read() else {
            if ts.wait(timer, 20).is_err() {
                return;
            }
            idle_ms += 20;
            if idle_ms >= 1000 {
                idle_ms = 0;
                for said in ts.reap() {
                    guest_rt::println!("{said}");
                    com2.say(&said);
                }
                if until_gone && ts.all_gone() {
                    com2.say("every domain is gone (until-gone): powering off");
                    return;
                }
            }
            continue;
        };
        match b {
            b'\r' | b'\n' => {
                com2.write(b"\n");
                let command = core::mem::take(&mut line);
                if command.trim() == "poweroff" {
                    com2.say("destroying every DomU and powering off");
                    return;
                }
                if !command.trim().is_empty() {
                    execute(ts, &com2, timer, command.trim());
                }
                com2.write(b"xl> ");
            }
            0x08 | 0x7f => {
                if line.pop().is_some() {
                    com2.write(b"\x08 \x08");
                }
            }
            b if (0x20..0x7f).contains(&b) && line.len() < LINE_MAX => {
                line.push(b as char);
                com2.put(b);
            }
            _ => {}
        }
    }
}

fn execute(ts: &mut Toolstack, com2: &Com2, timer: &Timer, command: &str) {
    let mut words = command.split_ascii_whitespace();
    let verb = words.next().unwrap_or("");
    if verb.starts_with("xenstore-") {
        let args: Vec<&str> = words.collect();
        return match crate::xsshell::execute(ts, com2, timer, verb, &args) {
            Ok(text) if text.is_empty() => {}
            Ok(text) => com2.say(&text),
            Err(e) => com2.say(&alloc::format!("error: {e}")),
        };
    }
    if matches!(verb, "sched-credit2" | "vcpu-list" | "vcpu-pin") {
        let args: Vec<&str> = words.collect();
        let result = sched(ts, verb, &args);
        return com2.say(&result.unwrap_or_else(|e| alloc::format!("error: {e}")));
    }
    let arg = words.next();
    if verb == "vcpu-set" {
        let n = words.next().and_then(|n| n.parse::<u32>().ok());
        let result = match (arg, n) {
            (Some(d), Some(n)) => ts.vcpu_set(d, n),
            _ => Err(String::from("vcpu-set needs a domain and a number of vCPUs")),
        };
        return com2.say(&result.unwrap_or_else(|e| alloc::format!("error: {e}")));
    }
    if verb == "mem-set" {
        let mib = words.next().and_then(|m| m.trim_end_matches(['m', 'M']).parse::<u64>().ok());
        let result = match (arg, mib) {
            (Some(d), Some(mib)) => ts.mem_set(d, mib),
            _ => Err(String::from("mem-set needs a domain and a size in MiB")),
        };
        return com2.say(&result.unwrap_or_else(|e| alloc::format!("error: {e}")));
    }
    if words.next().is_some() {
        return com2.say("error: too many arguments; `help` lists the commands");
    }
    let need = |what: &str| -> Result<&str, String> { arg.ok_or_else(|| alloc::format!("{verb} needs {what}")) };
    let result: Result<String, String> = match verb {
        "help" => Ok(HELP.into()),
        "list" => ts.list().map(|t| String::from(t.trim_end())),
        "create" => need("a config file").and_then(|f| ts.create(f)).map(|id| alloc::format!("created domain {id}")),
        "destroy" => need("a domain").and_then(|d| ts.destroy(d)).map(|()| "destroyed".into()),
        "shutdown" => need("a domain").and_then(|d| ts.shutdown(d, false)).map(|how| alloc::format!("shutting down: {how}")),
        "reboot" => need("a domain").and_then(|d| ts.shutdown(d, true)).map(|how| alloc::format!("rebooting: {how}")),
        "pause" => need("a domain").and_then(|d| ts.pause(d)).map(|()| "paused".into()),
        "unpause" => need("a domain").and_then(|d| ts.unpause(d)).map(|()| "unpaused".into()),
        "console" => need("a domain").and_then(|d| console(ts, com2, timer, d)),
        "info" => info(),
        "dmesg" => xen::read_console().map_err(|e| e.to_string()),
        _ => Err(alloc::format!("unknown command `{verb}`; `help` lists the commands")),
    };
    match result {
        Ok(text) => com2.say(&text),
        Err(e) => com2.say(&alloc::format!("error: {e}")),
    }
}

/// `xl console`: forwards the domain's PV console both ways until Ctrl-]
/// or the domain stops; the page is unmapped when this returns.
fn console(ts: &mut Toolstack, com2: &Com2, timer: &Timer, which: &str) -> Result<String, String> {
    let (attached, name, backlog) = ts.attach_console(which)?;
    let c = attached.console();
    let domid = c.domid;
    com2.say(&alloc::format!(
        "[console of {name} (d{domid}): page gfn {:#x}, its port {}, ours {}; Ctrl-] detaches]",
        c.gfn, c.remote_port, c.local_port
    ));
    com2.write(&backlog);
    let mut buf = [0u8; abi::io::console::XENCONS_OUT_SIZE as usize];
    let mut at_line_start = backlog.last().is_none_or(|&b| b == b'\n');
    // One ring's worth a poll: a guest that never stops writing cannot
    // keep us from reading the keyboard.
    let mut drain = |com2: &Com2| {
        if let Ok(n @ 1..) = attached.read(&mut buf) {
            com2.write(&buf[..n]);
            at_line_start = buf[n - 1] == b'\n';
        }
    };
    let mut since_check = 0u64;
    let ended = loop {
        drain(com2);
        let mut typed = Vec::new();
        let mut detach = false;
        while let Some(b) = com2.read() {
            if b == DETACH {
                detach = true;
                break;
            }
            typed.push(b);
        }
        if !typed.is_empty() {
            let _ = attached.write(&typed);
        }
        if detach {
            break "detached";
        }
        if ts.wait(timer, 20).is_err() {
            break "detached (the timer failed)";
        }
        since_check += 20;
        if since_check >= ALIVE_CHECK_MS {
            since_check = 0;
            if !ts.running(domid) {
                drain(com2);
                break "the domain stopped running; detached";
            }
        }
    };
    if !at_line_start {
        com2.write(b"\n");
    }
    drop(attached);
    Ok(alloc::format!("[{name} (d{domid}): {ended}]"))
}

/// The scheduling verbs, as xl spells them.
fn sched(ts: &Toolstack, verb: &str, args: &[&str]) -> Result<String, String> {
    match (verb, args) {
        ("vcpu-list", []) => ts.vcpu_list(None),
        ("vcpu-list", [d]) => ts.vcpu_list(Some(d)),
        ("vcpu-pin", [d, vcpu, hard]) => ts.vcpu_pin(d, vcpu, hard, None),
        ("vcpu-pin", [d, vcpu, hard, soft]) => ts.vcpu_pin(d, vcpu, hard, Some(soft)),
        ("vcpu-pin", _) => Err("usage: vcpu-pin NAME|ID VCPU|all HARD [SOFT]".into()),
        ("sched-credit2", _) => {
            let (mut domain, mut weight, mut cap) = (None, None, None);
            let mut it = args.iter();
            let number = |flag: &str, v: Option<&&str>| -> Result<u16, String> {
                v.and_then(|v| v.parse().ok()).ok_or_else(|| alloc::format!("{flag} needs a number from 0 to 65535"))
            };
            while let Some(&flag) = it.next() {
                match flag {
                    "-d" => domain = Some(*it.next().ok_or("-d needs a domain")?),
                    "-w" => weight = Some(number("-w", it.next())?),
                    "-c" => cap = Some(number("-c", it.next())?),
                    _ => return Err(alloc::format!("sched-credit2: unknown option `{flag}`")),
                }
            }
            if domain.is_none() && (weight.is_some() || cap.is_some()) {
                return Err("sched-credit2: -w / -c need -d DOMAIN".into());
            }
            ts.sched_credit2(domain, weight, cap).map(|t| String::from(t.trim_end()))
        }
        _ => Err(alloc::format!("{verb}: wrong arguments; `help` lists the commands")),
    }
}

/// `xl info`-like: the machine and the hypervisor.
fn info() -> Result<String, String> {
    let p = xen::physinfo().map_err(|e| e.to_string())?;
    let scheduler = match xen::sched_id().map_err(|e| e.to_string())? {
        abi::domctl::XEN_SCHEDULER_CREDIT2 => "credit2",
        abi::domctl::XEN_SCHEDULER_NULL => "null",
        abi::domctl::XEN_SCHEDULER_CREDIT => "credit",
        _ => "unknown",
    };
    let version = guest_rt::hypercall::xen_version();
    let mib = |pages: u64| pages / 256;
    Ok(alloc::format!(
        "nr_cpus                : {}\ntotal_memory           : {} MiB\nfree_memory            : {} MiB\nfree_pages             : {}\ncpu_khz                : {}\nxen_version            : {}.{}\nxen_scheduler          : {}",
        p.nr_cpus,
        mib(p.total_pages),
        mib(p.free_pages),
        p.free_pages,
        p.cpu_khz,
        version >> 16,
        version & 0xffff,
        scheduler
    ))
}

