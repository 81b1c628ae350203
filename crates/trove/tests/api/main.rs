//! Integration tests: the real server on port 0 with a temporary data directory, spoken to over HTTP.

mod access;
mod auth;
mod bad_input;
mod buckets;
mod cli;
mod common;
mod crash;
mod download;
mod failures;
mod large;
mod upload;
