//! REST routes under `/api`, one module per area of the original.

pub mod agent_processes;
pub mod agents;
pub mod apps;
pub mod autofixer;
pub mod brain;
pub mod browser;
pub mod commands;
pub mod cos;
pub mod files;
pub mod git;
pub mod history;
pub mod instances;
pub mod jira;
pub mod lmstudio;
pub mod notifications;
pub mod ports;
pub mod processes;
pub mod prompts;
pub mod providers;
pub mod runs;
pub mod settings;
pub mod system;
pub mod usage;
