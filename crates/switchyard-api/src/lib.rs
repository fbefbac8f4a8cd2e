//! Control API wire types (skeleton).
