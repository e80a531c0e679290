#!/bin/sh
# Boot a BIOS image under QEMU with COM1 on the terminal (Ctrl-A X quits).
# Usage: qemu-bios.sh IMG [SMP] [MEM_MIB]   (KVM=1 for nested KVM instead of TCG)
set -eu
img=${1:?usage: $0 IMG [SMP] [MEM_MIB]}
if [ "${KVM:-0}" = 1 ]; then cpu="-accel kvm -cpu host"; else cpu="-accel tcg -cpu qemu64,+svm,+npt,+smap,+smep"; fi
# shellcheck disable=SC2086
exec qemu-system-x86_64 $cpu -smp "${2:-2}" -m "${3:-512}" \
    -drive format=raw,file="$img" \
    -serial mon:stdio -display none -nic none -no-reboot \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04
