#!/bin/sh
# Write a BIOS or UEFI image to a USB stick. Everything on the stick is lost.
# Usage: usb-stick.sh IMG /dev/sdX
set -eu
img=${1:?usage: $0 IMG /dev/sdX}
dev=${2:?usage: $0 IMG /dev/sdX}
[ -b "$dev" ] || { echo "$dev is not a block device" >&2; exit 1; }
lsblk -o NAME,SIZE,MODEL,MOUNTPOINTS "$dev" 2>/dev/null || true
printf 'Overwrite %s with %s? Type yes: ' "$dev" "$img"
read -r answer
[ "$answer" = yes ] || { echo "aborted"; exit 1; }
dd if="$img" of="$dev" bs=4M conv=fsync status=progress
sync
echo "done: $dev"
