//! The one integration-test binary: jmb served on a real loopback socket, driven over HTTP.

mod api;
mod common;
mod concurrency;
mod hostile;
mod links;
mod legacy;
mod openapi;
