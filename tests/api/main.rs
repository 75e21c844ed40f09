//! The integration suite: one binary, each test against the real app on a random port with a
//! fresh database (SQLite temp file, or `TOKER_TEST_DATABASE_URL` for PostgreSQL / MariaDB).

mod cli;
mod confirmations;
mod helpers;
mod openapi;
mod smoke;
mod smtp;
