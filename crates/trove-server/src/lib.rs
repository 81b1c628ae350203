//! The Trove HTTP service: configuration, authentication, the service layer and the REST API.
//!
//! [`server::Server::start`] opens the metadata and blob stores named by the configuration, prepares
//! the data directory (admin key, development JWT secret, default bucket) and serves HTTP until it
//! is told to stop.

pub mod app;
pub mod auth;
pub mod compat;
pub mod config;
pub mod content;
pub mod error;
pub mod graphql;
pub mod images;
pub mod lifecycle;
pub mod listener;
pub mod metrics;
pub mod rest;
pub mod secrets;
pub mod server;
pub mod service;
pub mod signing;
pub mod state;
pub mod tus;
