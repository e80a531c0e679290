#!/bin/sh
# Boot the hybrid ISO (GRUB, multiboot2) from a CD-ROM under SeaBIOS, or OVMF
# with UEFI=1; COM1 on the terminal (Ctrl-A X quits).
# Usage: qemu-iso.sh ISO [SMP] [MEM_MIB]   (KVM=1 for nested KVM instead of TCG)
set -eu
iso=${1:?usage: $0 ISO [SMP] [MEM_MIB]}
if [ "${KVM:-0}" = 1 ]; then cpu="-accel kvm -cpu host"; else cpu="-accel tcg -cpu qemu64,+svm,+npt,+smap,+smep"; fi
fw=""
if [ "${UEFI:-0}" = 1 ]; then
    vars=$(mktemp)
    cp /usr/share/OVMF/OVMF_VARS_4M.fd "$vars"
    fw="-drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd -drive if=pflash,format=raw,file=$vars"
fi
# shellcheck disable=SC2086
exec qemu-system-x86_64 $cpu -smp "${2:-2}" -m "${3:-512}" $fw -cdrom "$iso" \
    -serial mon:stdio -display none -nic none -no-reboot \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04
