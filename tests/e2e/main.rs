//! The end-to-end suite, one test binary (`cargo test --release --test e2e`): the real
//! `stampede` binary against its built-in target and other servers on loopback, plus the
//! in-process checks that need the whole library (scenario messages, schedule properties).
//! One module per purpose; `common` holds the helpers every module shares. Data the tests read
//! stays beside this folder: tests/hostile/ (the hostile corpus), tests/servers/ (helper
//! servers). A new module is a file here and a `mod` line below.

mod common;

// Running the tool: the run command, its engine, exit codes, signals and limits.
mod breakpoint;
mod engine;
mod fuzz;
mod hardening;
mod hostile;
mod journeys;
mod open_model;
mod profiles;
mod run;
mod scenario_errors;
mod schedule;
// Protocols and the wire: HTTP/1.1 bytes, TLS, streams, other servers.
mod conformance;
mod h2_hostile;
mod h2_nginx;
mod h2_node;
mod h2_typed;
mod streaming;
mod tls;
mod wire;
// What a run leaves behind: reports, outputs, the dashboard, other tools that read them.
mod dashboard;
mod ecosystem;
mod outputs;
mod report_snapshots;
mod reports;
mod summary_typed;
mod typed_check;
// Beyond one process: distributed runs, Kubernetes manifests, capacity planning.
mod distributed;
mod k8s;
mod merge_streams;
mod plan;
mod plan_scenarios;
mod processes_live;
mod scenario_plan;
mod usl_reference;
