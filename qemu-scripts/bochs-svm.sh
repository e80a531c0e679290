#!/bin/sh
# Bochs, AMD Ryzen (SVM with NPT and NRIP-save). Usage: bochs-svm.sh IMG [CPUS] [MEM_MIB]
exec "$(dirname "$0")/bochs.sh" ryzen "$@"
