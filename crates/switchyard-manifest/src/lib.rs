//! Manifest loading (skeleton).
