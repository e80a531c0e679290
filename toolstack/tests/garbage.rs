//! The parser must survive any file: random bytes, token soup, and damaged
//! copies of a valid config. A panic fails the test; so does a result that
//! breaks what `parse` promises (an error on a line the file does not have,
//! an accepted config that violates the checks).

use toolstack::{ConfigError, DomainConfig, ErrorKind, parse};

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        // The remainder is below n, so it fits.
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }
    fn byte(&mut self) -> u8 {
        self.next().to_le_bytes()[0]
    }
}

const VALID: &[u8] = include_bytes!("../examples/demo-pvh-smp.cfg");

/// Pieces that reach the parser's branches more often than random bytes.
const TOKENS: &[&str] = &[
    "name",
    "kernel",
    "memory",
    "maxmem",
    "vcpus",
    "maxvcpus",
    "cpus",
    "cap",
    "cpu_cap",
    "extra",
    "cmdline",
    "type",
    "builder",
    "disk",
    "serial",
    "on_crash",
    "on_reboot",
    "cpu_weight",
    "=",
    "+=",
    " ",
    "\t",
    "\n",
    "\r\n",
    ";",
    "#",
    "[",
    "]",
    ",",
    "\"",
    "'",
    "\\",
    "\\x",
    "\\x4",
    "0",
    "1",
    "0x",
    "0x10",
    "010",
    "-",
    "^",
    "all",
    "0-3",
    "64",
    "\"pvh\"",
    "\"hvm\"",
    "'x'",
    "\"\"",
    "\"0-3,^2\"",
    "\"/a,,xvda\"",
    "\"phy:/d,xvda,w\"",
    "target=",
    "cdrom",
    "99999999999999999999",
    "\u{e9}",
    "\u{0}",
    "\u{ff}",
];

fn check(text: &[u8], result: &Result<DomainConfig, ConfigError>) {
    let lines = text.iter().filter(|&&b| b == b'\n').count() + 1;
    match result {
        Err(e) => {
            let shown = e.to_string();
            assert!(shown.starts_with("f.cfg"), "{shown}");
            assert!(!shown.contains('\n'), "multi-line message {shown:?}");
            match (e.line, &e.kind) {
                (None, ErrorKind::Missing(_)) => {}
                (Some(l), k) if !matches!(k, ErrorKind::Missing(_)) => {
                    assert!(
                        (1..=lines).contains(&(l as usize)),
                        "line {l} of {lines}: {shown}"
                    );
                }
                _ => panic!("line/kind mismatch: {e:?}"),
            }
        }
        Ok(c) => {
            assert!(!c.name.is_empty() && !c.kernel.is_empty());
            assert!(c.memory_mib >= 1 && c.maxmem_mib >= c.memory_mib);
            assert!(c.vcpus >= 1 && c.maxvcpus >= c.vcpus && c.maxvcpus <= 128);
            assert!(c.cpu_weight >= 1 && c.cpu_cap <= 100 * c.maxvcpus);
        }
    }
}

fn run(text: &[u8]) {
    let r = parse("f.cfg", text);
    check(text, &r);
}

#[test]
fn random_bytes() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for _ in 0..20_000 {
        let len = rng.below(300);
        let text: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
        run(&text);
    }
}

#[test]
fn token_soup() {
    let mut rng = Rng(0x0bad_cafe_f00d_0001);
    for _ in 0..20_000 {
        let n = rng.below(40);
        let text: String = (0..n).map(|_| TOKENS[rng.below(TOKENS.len())]).collect();
        run(text.as_bytes());
    }
}

#[test]
fn damaged_valid_config() {
    let mut rng = Rng(0xfeed_face_dead_beef);
    let mut accepted = 0;
    for _ in 0..20_000 {
        let mut text = VALID.to_vec();
        for _ in 0..=rng.below(4) {
            let at = rng.below(text.len() + 1);
            match rng.below(4) {
                0 if at < text.len() => text[at] = rng.byte(),
                1 if at < text.len() => {
                    text.remove(at);
                }
                2 => {
                    let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                    text.splice(at..at, t.iter().copied());
                }
                _ => text.truncate(at),
            }
        }
        let r = parse("f.cfg", &text);
        accepted += usize::from(r.is_ok());
        check(&text, &r);
    }
    // Some damage (in a comment, a digit for a digit) leaves a valid
    // config: both outcomes must have been exercised.
    assert!(accepted > 0 && accepted < 20_000, "accepted {accepted}");
}
