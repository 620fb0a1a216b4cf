//! Placeholder: filled in by its own change.

use super::CommandSpec;

pub const COMMANDS: &[CommandSpec] = &[];
