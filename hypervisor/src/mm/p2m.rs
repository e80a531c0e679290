//! Nested page tables (p2m): guest-physical to machine frames.
