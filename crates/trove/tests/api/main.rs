//! Integration tests: the real server on port 0 with a temporary data directory, spoken to over HTTP.

mod access;
mod associations;
mod auth;
mod bad_input;
mod buckets;
mod categories;
mod cli;
mod common;
mod crash;
mod data_safety;
mod direct_uploads;
mod download;
mod failures;
mod graphql;
mod inline;
mod key_sets;
mod large;
mod limits;
mod links;
mod listing;
mod multi_node;
mod object_storage;
mod tus;
mod unfinished;
mod upload;
mod upload_rules;
