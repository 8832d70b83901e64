//! Placeholder: this crate's issue is still open; it provides nothing yet.
