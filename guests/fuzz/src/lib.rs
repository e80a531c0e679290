//! The hypercall fuzzer's logic, kept free of hardware so that it is tested
//! on the host: the call generator (`calls`) and the calls it must not make
//! (`exclude`). The kernel around it is `main.rs`.
#![cfg_attr(not(test), no_std)]

pub mod calls;
pub mod exclude;
