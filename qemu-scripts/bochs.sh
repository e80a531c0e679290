#!/bin/sh
# Boot a BIOS image under Bochs, headless, with COM1 on the terminal.
# Usage: bochs.sh CPU_MODEL IMG [CPUS] [MEM_MIB]
# Needs bochs, bochs-sdl, bochsbios, vgabios. The Cirrus VGA BIOS is needed for
# the bootloader's video mode; that mode is 24 bpp, which the RFB display
# cannot show, so SDL2 runs with its dummy driver. The disk is padded to whole
# cylinders (16 heads, 63 sectors: 516096 bytes).
set -eu
model=${1:?usage: $0 CPU_MODEL IMG [CPUS] [MEM_MIB]}
img=${2:?usage: $0 CPU_MODEL IMG [CPUS] [MEM_MIB]}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cyl_bytes=516096
cyls=$(( ($(stat -c %s "$img") + cyl_bytes - 1) / cyl_bytes ))
cp "$img" "$dir/disk.img"
truncate -s $((cyls * cyl_bytes)) "$dir/disk.img"
cat > "$dir/bochsrc" <<RC
megs: ${4:-256}
cpu: model=$model, count=${3:-2}, ips=50000000
clock: sync=none
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios-cirrus.bin
vga: extension=cirrus
pci: enabled=1, chipset=i440fx, slot1=cirrus
display_library: sdl2
sound: waveoutdrv=dummy
ata0-master: type=disk, path=$dir/disk.img, mode=flat, cylinders=$cyls, heads=16, spt=63
boot: disk
com1: enabled=1, mode=file, dev=$dir/com1.log
magic_break: enabled=1
log: $dir/bochs.log
panic: action=report
error: action=report
info: action=ignore
debug: action=ignore
RC
printf 'c\nquit\n' > "$dir/rc"
: > "$dir/com1.log"
SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy bochs -q -f "$dir/bochsrc" -rc "$dir/rc" >"$dir/out" 2>&1 </dev/null &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT INT TERM
tail -n +1 -f --pid=$pid "$dir/com1.log"
echo; echo "bochs exited:"; grep -v '^ALSA\|plugin\|lt_dlhandle' "$dir/out" | tail -4
