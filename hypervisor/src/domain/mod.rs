//! Domains: PVH loading.
