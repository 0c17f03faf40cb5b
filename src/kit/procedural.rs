//! Procedural kits.
