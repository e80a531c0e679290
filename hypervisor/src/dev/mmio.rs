//! Carrying out the guest instruction behind an access to emulated MMIO:
//! decoded with iced-x86, executed against a [`Device`] and the guest's
//! general-purpose registers ([`Registers`]), as Xen's x86_emulate does for
//! its MMIO handlers, for the forms a kernel uses on device registers:
//!
//! - `MOV r/m, reg`, `MOV reg, r/m` (1, 2, 4, 8 bytes; AH-BH too),
//!   `MOV r/m, imm`, the `MOV moffs` forms of A0-A3;
//! - `MOVZX`, `MOVSX`, `MOVSXD` loads;
//! - `XCHG r/m, reg` (Linux writes the xAPIC with it on CPUs with the
//!   11AP erratum);
//! - `CMP` and `TEST` with a memory operand (a compiler folds a volatile
//!   load into them): only RFLAGS' status flags change.
//!
//! Anything else (other read-modify-write forms, string instructions,
//! SIMD) is [`Unsupported`]: the caller crashes the domain and logs the
//! bytes. The faulting guest-physical address comes from the exit, so no
//! segment or address arithmetic is redone here; the instruction only
//! tells the direction, the width and the register.
//!
//! Register writes follow the architecture: 32-bit destinations zero bits
//! 63:32, 8- and 16-bit ones keep the rest.

#![forbid(unsafe_code)]

use iced_x86::{Code, Decoder, DecoderOptions, Instruction, Mnemonic, OpKind, Register};

/// The guest's 16 general-purpose registers by their encoding number
/// (0 rax, 1 rcx, 2 rdx, 3 rbx, 4 rsp, 5 rbp, 6 rsi, 7 rdi, 8-15 r8-r15).
pub trait Registers {
    fn get(&self, number: u8) -> u64;
    fn set(&mut self, number: u8, value: u64);
    fn rflags(&self) -> u64;
    fn set_rflags(&mut self, value: u64);
}

/// What the access reaches: `len` is 1, 2, 4 or 8.
pub trait Device {
    fn read(&mut self, gpa: u64, len: usize) -> u64;
    fn write(&mut self, gpa: u64, len: usize, value: u64);
}

/// Why an instruction was not emulated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unsupported {
    /// The bytes do not decode to an instruction.
    Undecodable,
    /// A valid instruction this emulator does not carry out.
    Instruction(Mnemonic),
}

impl core::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Unsupported::Undecodable => write!(f, "not a valid instruction"),
            Unsupported::Instruction(m) => write!(f, "{m:?} is not emulated"),
        }
    }
}

/// The longest x86 instruction.
pub const MAX_INSTRUCTION: usize = 15;

/// Decodes the instruction in `bytes` (code of `bitness` 16, 32 or 64),
/// which accessed `gpa`, and carries it out. Returns its length, which
/// the caller adds to RIP.
pub fn emulate(bytes: &[u8], bitness: u32, gpa: u64, regs: &mut impl Registers, dev: &mut impl Device) -> Result<u64, Unsupported> {
    let mut decoder = Decoder::new(bitness, bytes, DecoderOptions::NONE);
    let insn = decoder.decode();
    if insn.is_invalid() {
        return Err(Unsupported::Undecodable);
    }
    let unsupported = Err(Unsupported::Instruction(insn.mnemonic()));
    let mem_len = insn.memory_size().size();
    if !matches!(mem_len, 1 | 2 | 4 | 8) || insn.has_rep_prefix() || insn.has_repne_prefix() {
        return unsupported;
    }
    let is_mem = |op: u32| insn.op_kind(op) == OpKind::Memory;
    match insn.mnemonic() {
        Mnemonic::Mov if is_mem(0) => {
            let value = match insn.op_kind(1) {
                OpKind::Register => read_register(regs, insn.op_register(1)),
                OpKind::Immediate8 | OpKind::Immediate16 | OpKind::Immediate32 | OpKind::Immediate8to32 | OpKind::Immediate32to64 => {
                    insn.immediate(1)
                }
                _ => return unsupported,
            };
            dev.write(gpa, mem_len, value & mask(mem_len));
        }
        Mnemonic::Mov if is_mem(1) && insn.op_kind(0) == OpKind::Register => {
            let value = dev.read(gpa, mem_len) & mask(mem_len);
            write_register(regs, insn.op_register(0), value);
        }
        Mnemonic::Movzx if is_mem(1) => {
            let value = dev.read(gpa, mem_len) & mask(mem_len);
            write_register(regs, insn.op_register(0), value);
        }
        Mnemonic::Movsx | Mnemonic::Movsxd if is_mem(1) => {
            let value = sign_extend(dev.read(gpa, mem_len), mem_len);
            write_register(regs, insn.op_register(0), value);
        }
        Mnemonic::Xchg if is_mem(0) || is_mem(1) => {
            let reg = if is_mem(0) { insn.op_register(1) } else { insn.op_register(0) };
            let old = dev.read(gpa, mem_len) & mask(mem_len);
            dev.write(gpa, mem_len, read_register(regs, reg) & mask(mem_len));
            write_register(regs, reg, old);
        }
        Mnemonic::Cmp | Mnemonic::Test if is_mem(0) || is_mem(1) => {
            let other = if is_mem(0) { 1 } else { 0 };
            let operand = match insn.op_kind(other) {
                OpKind::Register => read_register(regs, insn.op_register(other)),
                OpKind::Immediate8 | OpKind::Immediate16 | OpKind::Immediate32 | OpKind::Immediate8to16 | OpKind::Immediate8to32 | OpKind::Immediate8to64 | OpKind::Immediate32to64 => {
                    insn.immediate(other)
                }
                _ => return unsupported,
            } & mask(mem_len);
            let memory = dev.read(gpa, mem_len) & mask(mem_len);
            let (a, b) = if is_mem(0) { (memory, operand) } else { (operand, memory) };
            let status = if insn.mnemonic() == Mnemonic::Cmp { sub_flags(a, b, mem_len) } else { logic_flags(a & b, mem_len) };
            regs.set_rflags((regs.rflags() & !STATUS_FLAGS) | status);
        }
        _ => return unsupported,
    }
    Ok(insn.len() as u64)
}

/// The decoded instruction, for a log line about one that was refused.
pub fn describe(bytes: &[u8], bitness: u32) -> Option<Code> {
    let insn: Instruction = Decoder::new(bitness, bytes, DecoderOptions::NONE).decode();
    (!insn.is_invalid()).then(|| insn.code())
}

/// CF, PF, AF, ZF, SF, OF.
const STATUS_FLAGS: u64 = 0x8d5;
const CF: u64 = 1 << 0;
const AF: u64 = 1 << 4;
const OF: u64 = 1 << 11;

/// ZF, SF and PF of a `len`-byte result.
fn result_flags(result: u64, len: usize) -> u64 {
    const PF: u64 = 1 << 2;
    const ZF: u64 = 1 << 6;
    const SF: u64 = 1 << 7;
    let sign = 1u64 << (8 * len - 1);
    let mut f = 0;
    if result == 0 {
        f |= ZF;
    }
    if result & sign != 0 {
        f |= SF;
    }
    // PF: an even number of set bits in the low byte.
    if (result & 0xff).count_ones().is_multiple_of(2) {
        f |= PF;
    }
    f
}

/// The status flags of `a - b` on `len` bytes (CMP, SUB).
fn sub_flags(a: u64, b: u64, len: usize) -> u64 {
    let result = a.wrapping_sub(b) & mask(len);
    let sign = 1u64 << (8 * len - 1);
    let mut f = result_flags(result, len);
    if a < b {
        f |= CF;
    }
    if (a ^ b) & (a ^ result) & sign != 0 {
        f |= OF;
    }
    if (a ^ b ^ result) & 0x10 != 0 {
        f |= AF;
    }
    f
}

/// The status flags of a logical result (TEST, AND): CF and OF clear, AF
/// (undefined) clear.
fn logic_flags(result: u64, len: usize) -> u64 {
    result_flags(result, len)
}

fn mask(len: usize) -> u64 {
    if len >= 8 { u64::MAX } else { (1u64 << (len * 8)) - 1 }
}

fn sign_extend(value: u64, len: usize) -> u64 {
    let shift = 64 - 8 * crate::bits::low32_usize(len);
    ((value << shift).cast_signed() >> shift).cast_unsigned()
}

/// (encoding number, bit offset, width in bytes) of a general-purpose
/// register operand: AH-BH are bits 15:8 of rax-rbx.
fn locate(reg: Register) -> (u8, u32, usize) {
    if matches!(reg, Register::AH | Register::CH | Register::DH | Register::BH) {
        return (crate::bits::low8(u64::from(reg as u32 - Register::AH as u32)), 8, 1);
    }
    let number = reg.full_register() as u32 - Register::RAX as u32;
    (crate::bits::low8(u64::from(number & 15)), 0, reg.size())
}

fn read_register(regs: &impl Registers, reg: Register) -> u64 {
    let (number, shift, len) = locate(reg);
    (regs.get(number) >> shift) & mask(len)
}

/// Writes `value` to a register operand: a 32-bit destination zero-extends
/// into the whole register, narrower ones merge.
fn write_register(regs: &mut impl Registers, reg: Register, value: u64) {
    let (number, shift, len) = locate(reg);
    let new = match len {
        8 => value,
        4 => value & 0xffff_ffff,
        _ => (regs.get(number) & !(mask(len) << shift)) | ((value & mask(len)) << shift),
    };
    regs.set(number, new);
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[derive(Default)]
    struct Regs([u64; 16], u64);
    impl Registers for Regs {
        fn get(&self, n: u8) -> u64 {
            self.0[usize::from(n)]
        }
        fn set(&mut self, n: u8, v: u64) {
            self.0[usize::from(n)] = v;
        }
        fn rflags(&self) -> u64 {
            self.1
        }
        fn set_rflags(&mut self, v: u64) {
            self.1 = v;
        }
    }

    /// Reads `value`; records writes.
    struct Dev {
        value: u64,
        reads: Vec<(u64, usize)>,
        writes: Vec<(u64, usize, u64)>,
    }
    impl Dev {
        fn reading(value: u64) -> Dev {
            Dev { value, reads: Vec::new(), writes: Vec::new() }
        }
    }
    impl Device for Dev {
        fn read(&mut self, gpa: u64, len: usize) -> u64 {
            self.reads.push((gpa, len));
            self.value
        }
        fn write(&mut self, gpa: u64, len: usize, value: u64) {
            self.writes.push((gpa, len, value));
        }
    }

    const GPA: u64 = 0xfee0_0020;
    const RAX: usize = 0;
    const RCX: usize = 1;
    const RDX: usize = 2;

    fn run(bytes: &[u8], regs: &mut Regs, dev: &mut Dev) -> Result<u64, Unsupported> {
        emulate(bytes, 64, GPA, regs, dev)
    }

    #[test]
    fn a_32_bit_load_zero_extends_and_reports_its_length() {
        let mut r = Regs::default();
        r.0[RAX] = u64::MAX;
        let mut d = Dev::reading(0x1234_5678_9abc_def0);
        // mov eax, [rip + 0x12345678] (Linux's apic_read is a mov from a fixmap)
        assert_eq!(run(&[0x8b, 0x05, 0x78, 0x56, 0x34, 0x12], &mut r, &mut d), Ok(6));
        assert_eq!(d.reads, [(GPA, 4)]);
        assert_eq!(r.0[RAX], 0x9abc_def0, "bits 63:32 cleared");
    }

    #[test]
    fn narrow_loads_merge_and_high_byte_registers_work() {
        let mut r = Regs::default();
        r.0[RCX] = 0xffff_ffff_ffff_ffff;
        let mut d = Dev::reading(0xab);
        // mov cl, [rdx]
        assert_eq!(run(&[0x8a, 0x0a], &mut r, &mut d), Ok(2));
        assert_eq!(r.0[RCX], 0xffff_ffff_ffff_ffab);
        // mov ch, [rdx]
        d.value = 0x12;
        run(&[0x8a, 0x2a], &mut r, &mut d).unwrap();
        assert_eq!(r.0[RCX], 0xffff_ffff_ffff_12ab);
        // mov cx, [rdx]
        d.value = 0x5678;
        run(&[0x66, 0x8b, 0x0a], &mut r, &mut d).unwrap();
        assert_eq!(r.0[RCX], 0xffff_ffff_ffff_5678);
        assert_eq!(d.reads.last(), Some(&(GPA, 2)));
        // mov rcx, [rdx]
        d.value = 0x0102_0304_0506_0708;
        run(&[0x48, 0x8b, 0x0a], &mut r, &mut d).unwrap();
        assert_eq!(r.0[RCX], 0x0102_0304_0506_0708);
        assert_eq!(d.reads.last(), Some(&(GPA, 8)));
    }

    #[test]
    fn stores_of_registers_and_immediates() {
        let mut r = Regs::default();
        r.0[RAX] = 0xdead_beef_0000_00b0;
        let mut d = Dev::reading(0);
        // mov [rdx], eax
        assert_eq!(run(&[0x89, 0x02], &mut r, &mut d), Ok(2));
        // mov dword [rdx + 0xb0], 0
        assert_eq!(run(&[0xc7, 0x82, 0xb0, 0, 0, 0, 0, 0, 0, 0], &mut r, &mut d), Ok(10));
        // mov byte [rdx], 0x7f
        run(&[0xc6, 0x02, 0x7f], &mut r, &mut d).unwrap();
        // mov qword [rdx], -1 (imm32 sign-extended)
        run(&[0x48, 0xc7, 0x02, 0xff, 0xff, 0xff, 0xff], &mut r, &mut d).unwrap();
        // mov [rdx], r9b would need REX: mov [rdx], ah
        run(&[0x88, 0x22], &mut r, &mut d).unwrap();
        assert_eq!(d.writes, [(GPA, 4, 0x0000_00b0), (GPA, 4, 0), (GPA, 1, 0x7f), (GPA, 8, u64::MAX), (GPA, 1, 0)]);
    }

    #[test]
    fn movzx_and_movsx_loads() {
        let mut r = Regs::default();
        r.0[RAX] = u64::MAX;
        let mut d = Dev::reading(0x80);
        // movzx eax, byte [rdx]
        assert_eq!(run(&[0x0f, 0xb6, 0x02], &mut r, &mut d), Ok(3));
        assert_eq!(r.0[RAX], 0x80);
        // movsx rax, byte [rdx]
        run(&[0x48, 0x0f, 0xbe, 0x02], &mut r, &mut d).unwrap();
        assert_eq!(r.0[RAX], 0xffff_ffff_ffff_ff80);
        // movsxd rax, dword [rdx]
        d.value = 0x8000_0000;
        run(&[0x48, 0x63, 0x02], &mut r, &mut d).unwrap();
        assert_eq!(r.0[RAX], 0xffff_ffff_8000_0000);
        // movzx ax, byte [rdx]: a 16-bit destination keeps bits 63:16
        r.0[RAX] = 0x1111_2222_3333_4444;
        d.value = 0x55;
        run(&[0x66, 0x0f, 0xb6, 0x02], &mut r, &mut d).unwrap();
        assert_eq!(r.0[RAX], 0x1111_2222_3333_0055);
    }

    #[test]
    fn xchg_swaps_the_register_and_the_device() {
        let mut r = Regs::default();
        r.0[RCX] = 0x42;
        let mut d = Dev::reading(0x99);
        // xchg [rdx], ecx
        assert_eq!(run(&[0x87, 0x0a], &mut r, &mut d), Ok(2));
        assert_eq!(d.writes, [(GPA, 4, 0x42)]);
        assert_eq!(r.0[RCX], 0x99);
    }

    #[test]
    fn moffs_and_32_bit_code() {
        let mut r = Regs::default();
        let mut d = Dev::reading(0x14);
        // 32-bit: mov eax, [0xfee00030]
        assert_eq!(emulate(&[0xa1, 0x30, 0x00, 0xe0, 0xfe], 32, GPA, &mut r, &mut d), Ok(5));
        assert_eq!(r.0[RAX], 0x14);
        // 32-bit: mov [edx], ecx
        r.0[RCX] = 7;
        assert_eq!(emulate(&[0x89, 0x0a], 32, GPA, &mut r, &mut d), Ok(2));
        assert_eq!(d.writes, [(GPA, 4, 7)]);
    }

    #[test]
    fn cmp_and_test_set_the_status_flags_only() {
        const ZF: u64 = 1 << 6;
        const SF: u64 = 1 << 7;
        const PF: u64 = 1 << 2;
        let mut r = Regs::default();
        r.1 = 0x202 | CF; // IF and a stale CF
        let mut d = Dev::reading(0);
        // cmp dword [rbx + rcx], 0 (what a compiler makes of `read_volatile() == 0`)
        assert_eq!(run(&[0x83, 0x3c, 0x0b, 0x00], &mut r, &mut d), Ok(4));
        assert_eq!(r.1, 0x202 | ZF | PF, "equal: ZF, PF; CF cleared; IF kept");
        d.value = 1;
        // cmp dword [rdx], 2: 1 - 2 borrows, negative, AF from bit 4
        run(&[0x83, 0x3a, 0x02], &mut r, &mut d).unwrap();
        assert_eq!(r.1 & STATUS_FLAGS, CF | SF | AF | PF);
        // cmp eax, [rdx] with eax = 0x80000000, [rdx] = 1: signed overflow
        r.0[RAX] = 0x8000_0000;
        run(&[0x3b, 0x02], &mut r, &mut d).unwrap();
        assert_eq!(r.1 & STATUS_FLAGS, OF | AF | PF);
        // test byte [rdx], 0x80 with 0x81: SF, not ZF; the register is untouched
        d.value = 0x81;
        run(&[0xf6, 0x02, 0x80], &mut r, &mut d).unwrap();
        assert_eq!(r.1 & STATUS_FLAGS, SF);
        // test [rdx], ecx with no common bit
        r.0[RCX] = 0x2;
        run(&[0x85, 0x0a], &mut r, &mut d).unwrap();
        assert_eq!(r.1 & STATUS_FLAGS, ZF | PF);
        assert!(d.writes.is_empty(), "CMP and TEST never write");
    }

    #[test]
    fn everything_else_is_refused_untouched() {
        let mut r = Regs::default();
        r.0[RDX] = 5;
        let mut d = Dev::reading(1);
        // or dword [rdx], 1 (a read-modify-write Linux does not use on devices)
        assert_eq!(run(&[0x83, 0x0a, 0x01], &mut r, &mut d), Err(Unsupported::Instruction(Mnemonic::Or)));
        // rep movsd
        assert!(run(&[0xf3, 0xa5], &mut r, &mut d).is_err());
        // movdqa xmm0, [rdx]: 16 bytes
        assert!(run(&[0x66, 0x0f, 0x6f, 0x02], &mut r, &mut d).is_err());
        assert_eq!(run(&[0x0f, 0xff], &mut r, &mut d), Err(Unsupported::Undecodable), "ud0 without ModRM");
        assert_eq!(run(&[], &mut r, &mut d), Err(Unsupported::Undecodable));
        assert_eq!(run(&[0x8b], &mut r, &mut d), Err(Unsupported::Undecodable), "cut short");
        assert!(d.reads.is_empty() && d.writes.is_empty());
        assert_eq!(r.0[RDX], 5);
    }
}
