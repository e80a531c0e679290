#!/bin/sh
# Boot the hypervisor ELF with QEMU's multiboot loader, the boot bundle as its
# module, COM1 on the terminal (Ctrl-A X quits). The fastest path.
# Usage: qemu-kernel.sh ELF BUNDLE [SMP] [MEM_MIB] ["HV CMDLINE"]   (KVM=1 for nested KVM)
#   e.g. qemu-kernel.sh target/images/hypervisor.elf target/images/bundle.tar
set -eu
elf=${1:?usage: $0 ELF BUNDLE [SMP] [MEM_MIB] [CMDLINE]}
bundle=${2:?usage: $0 ELF BUNDLE [SMP] [MEM_MIB] [CMDLINE]}
if [ "${KVM:-0}" = 1 ]; then cpu="-accel kvm -cpu host"; else cpu="-accel tcg -cpu qemu64,+svm,+npt,+smap,+smep"; fi
# shellcheck disable=SC2086
exec qemu-system-x86_64 $cpu -smp "${3:-2}" -m "${4:-512}" \
    -kernel "$elf" -initrd "$bundle" -append "${5:-}" \
    -serial mon:stdio -display none -nic none -no-reboot \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04
