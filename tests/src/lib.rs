//! Helpers shared by the whole-flow tests.
