#!/bin/sh
# Bochs, Intel Haswell (VMX with EPT, VPID, unrestricted guest). Usage: bochs-vmx.sh IMG [CPUS] [MEM_MIB]
exec "$(dirname "$0")/bochs.sh" corei7_haswell_4770 "$@"
