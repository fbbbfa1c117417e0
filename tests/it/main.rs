//! The one integration-test binary: jmb served on a real loopback socket, driven over HTTP.

mod adoption;
mod api;
mod architecture;
mod calendar;
mod cli;
mod common;
mod concurrency;
mod directory;
mod hostile;
mod legacy;
mod links;
mod mail;
mod openapi;
mod pages;
mod presence;
mod serving;
mod slapd;
mod smtp;
mod warnings;
