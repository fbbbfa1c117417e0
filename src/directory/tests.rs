//! Unit tests of the service over a fake directory.
