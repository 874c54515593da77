//! End-to-end tests: the real `portos` binary and the real services, on temp
//! data dirs and free ports, driven as a user would drive them.

mod apps;
mod autofixer;
mod bad_config;
mod brain;
mod browser;
mod chaos;
mod cos;
mod doctor;
mod fuzz;
mod http;
mod https;
mod instances;
mod integrations;
mod lifecycle;
mod live_logs;
mod logs;
mod notifications;
mod policies;
mod reload;
mod runner;
mod runs;
mod security;
mod service;
mod shell;
mod siblings;
mod soak;
mod stack;
mod ui;
mod ui_apps;
mod ui_cos;
mod ui_instances;
mod ui_usage;
mod workflows;
