//! Server (skeleton).
