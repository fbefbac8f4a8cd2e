//! The Store port (skeleton).
