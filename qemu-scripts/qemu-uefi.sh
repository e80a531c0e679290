#!/bin/sh
# Boot a UEFI image under QEMU with OVMF, COM1 on the terminal (Ctrl-A X quits).
# Usage: qemu-uefi.sh IMG [SMP] [MEM_MIB]   (KVM=1 for nested KVM instead of TCG)
set -eu
img=${1:?usage: $0 IMG [SMP] [MEM_MIB]}
ovmf=/usr/share/OVMF
vars=$(mktemp --suffix=.fd)
trap 'rm -f "$vars"' EXIT
cp "$ovmf/OVMF_VARS_4M.fd" "$vars"
if [ "${KVM:-0}" = 1 ]; then cpu="-accel kvm -cpu host"; else cpu="-accel tcg -cpu qemu64,+svm,+npt,+smap,+smep"; fi
# shellcheck disable=SC2086
qemu-system-x86_64 $cpu -smp "${2:-2}" -m "${3:-512}" \
    -drive if=pflash,format=raw,readonly=on,file="$ovmf/OVMF_CODE_4M.fd" \
    -drive if=pflash,format=raw,file="$vars" \
    -drive format=raw,file="$img" \
    -serial mon:stdio -display none -nic none -no-reboot \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04
