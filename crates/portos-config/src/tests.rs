use std::path::Path;
use std::time::Duration;

use crate::{Config, ConfigError, HealthCheck};

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("/etc/portos/supervisor.toml"))
}

fn refused(text: &str) -> ConfigError {
    parse(text).expect_err("config should be refused")
}

const TWO: &str = r#"
[[process]]
name = "a"
command = "sleep"
args = ["100"]
ports = { api = 7001 }
health = { check = "grpc" }

[[process]]
name = "b"
command = "./bin/b"
cwd = "sub"
env = { PORT = "7002" }
ports = { ui = 7002 }
depends_on = ["a"]
max_memory_restart = "2G"
min_uptime = "30s"
restart_delay = "10s"
kill_timeout = "30s"
stop_signal = "int"
"#;

#[test]
fn defaults_mirror_pm2_and_values_are_read() {
    let c = parse(TWO).unwrap();
    let a = c.process("a").unwrap();
    assert_eq!(a.max_restarts, 16);
    assert_eq!(a.min_uptime, Duration::from_secs(1));
    assert_eq!(a.kill_timeout, Duration::from_millis(1600));
    assert_eq!(a.restart_delay, Duration::ZERO);
    assert!(a.autorestart);
    assert_eq!(
        a.health,
        HealthCheck::Grpc {
            port: 7001,
            service: String::new()
        }
    );
    assert_eq!(a.env.get("TZ").map(String::as_str), Some("UTC"));
    assert_eq!(a.cwd, Path::new("/etc/portos"));
    let b = c.process("b").unwrap();
    assert_eq!(b.max_memory_restart, Some(2 << 30));
    assert_eq!(b.min_uptime, Duration::from_secs(30));
    assert_eq!(b.stop_signal, "SIGINT");
    assert_eq!(b.cwd, Path::new("/etc/portos/sub"));
    assert_eq!(b.env.get("PORT").map(String::as_str), Some("7002"));
    let order: Vec<_> = c.start_order().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(order, ["a", "b"]);
    assert_eq!(c.with_dependencies(&["b"]), ["a", "b"]);
    assert_eq!(c.with_dependencies(&["a"]), ["a"]);
}

#[test]
fn backoff_grows_and_is_capped() {
    let c = parse(TWO).unwrap();
    let b = c.process("b").unwrap();
    assert_eq!(b.restart_delay_for(0), Duration::from_secs(10));
    assert_eq!(b.restart_delay_for(1), Duration::from_millis(10_100));
    assert_eq!(b.restart_delay_for(2), Duration::from_millis(10_200));
    assert_eq!(b.restart_delay_for(3), Duration::from_millis(10_400));
    assert_eq!(b.restart_delay_for(40), Duration::from_secs(40));
}

#[test]
fn unknown_key_names_file_line_and_key() {
    let e = refused("[[process]]\nname = \"a\"\ncommand = \"x\"\nrestart_dealy = \"1s\"\n");
    let msg = e.to_string();
    assert_eq!(e.line(), Some(4), "{msg}");
    assert_eq!(e.key(), Some("restart_dealy"), "{msg}");
    assert!(msg.starts_with("/etc/portos/supervisor.toml:4:"), "{msg}");
}

#[test]
fn duplicate_names_are_refused() {
    let e = refused(
        "[[process]]\nname = \"a\"\ncommand = \"x\"\n[[process]]\nname = \"a\"\ncommand = \"y\"\n",
    );
    assert_eq!(e.line(), Some(5));
    assert_eq!(e.key(), Some("name"));
    assert!(
        e.to_string()
            .contains("duplicate process name \"a\" (first defined on line 2)"),
        "{e}"
    );
}

#[test]
fn dependency_cycles_are_refused() {
    let e = refused(
        "[[process]]\nname = \"a\"\ncommand = \"x\"\ndepends_on = [\"b\"]\n\
         [[process]]\nname = \"b\"\ncommand = \"y\"\ndepends_on = [\"a\"]\n",
    );
    assert!(e.to_string().contains("dependency cycle: a → b → a"), "{e}");
    assert_eq!(e.key(), Some("depends_on"));
    assert_eq!(e.line(), Some(8));
}

#[test]
fn unknown_dependency_is_refused() {
    let e = refused("[[process]]\nname = \"a\"\ncommand = \"x\"\ndepends_on = [\"ghost\"]\n");
    assert!(e.to_string().contains("unknown process \"ghost\""), "{e}");
}

#[test]
fn bad_duration_names_its_key() {
    let e = refused("[[process]]\nname = \"a\"\ncommand = \"x\"\nmin_uptime = \"3 parsecs\"\n");
    assert_eq!(e.line(), Some(4));
    assert_eq!(e.key(), Some("min_uptime"));
    assert!(
        e.to_string().contains("invalid duration \"3 parsecs\""),
        "{e}"
    );
}

#[test]
fn port_clash_is_refused() {
    let e = refused(
        "[[process]]\nname = \"a\"\ncommand = \"x\"\nports = { api = 7000 }\n\
         [[process]]\nname = \"b\"\ncommand = \"y\"\nports = { ui = 7000 }\n",
    );
    assert_eq!(e.line(), Some(8));
    assert!(
        e.to_string()
            .contains("port clash: 7000 is used by both a.api and b.ui"),
        "{e}"
    );
}

#[test]
fn health_port_must_be_named_when_ambiguous() {
    let e = refused(
        "[[process]]\nname = \"a\"\ncommand = \"x\"\nports = { cdp = 1, health = 2 }\nhealth = { check = \"http\" }\n",
    );
    assert!(e.to_string().contains("health needs `port"), "{e}");
    assert_eq!(e.line(), Some(5));
}

#[test]
fn bad_signal_and_bad_check_are_refused() {
    let e = refused("[[process]]\nname = \"a\"\ncommand = \"x\"\nstop_signal = \"SIGWHAT\"\n");
    assert!(e.to_string().contains("unknown stop signal"), "{e}");
    let e = refused("[[process]]\nname = \"a\"\ncommand = \"x\"\nhealth = { check = \"ping\" }\n");
    assert!(e.to_string().contains("unknown variant `ping`"), "{e}");
}

#[test]
fn tls_goes_to_the_processes_that_ask_and_missing_files_are_refused() {
    let dir = std::env::temp_dir().join(format!("portos-config-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("c.pem"), "x").unwrap();
    std::fs::write(dir.join("k.pem"), "x").unwrap();
    let text = "[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n\n[[process]]\nname = \"web\"\ncommand = \"w\"\ntls = true\n\n[[process]]\nname = \"inner\"\ncommand = \"i\"\n";
    let c = Config::parse(text, &dir.join("supervisor.toml")).unwrap();
    let web = c.process("web").unwrap();
    assert_eq!(
        web.env.get(crate::TLS_CERT_ENV),
        Some(&dir.join("c.pem").display().to_string())
    );
    assert_eq!(
        web.env.get(crate::TLS_KEY_ENV),
        Some(&dir.join("k.pem").display().to_string())
    );
    assert!(
        !c.process("inner")
            .unwrap()
            .env
            .contains_key(crate::TLS_CERT_ENV)
    );
    assert!(c.tls.is_some());
    let missing = text.replace("k.pem", "nope.pem");
    let e = Config::parse(&missing, &dir.join("supervisor.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("supervisor.toml:1:") && e.contains("tls.key") && e.contains("nope.pem"),
        "{e}"
    );
    // Tailscale instead of files: no env yet (`portos up` fetches the files); not both.
    let ts = Config::parse(
        "[tls]\ntailscale = true\n\n[[process]]\nname = \"web\"\ncommand = \"w\"\ntls = true\n",
        &dir.join("supervisor.toml"),
    )
    .unwrap();
    assert_eq!(ts.tls, Some(crate::Tls::Tailscale));
    assert!(ts.process("web").unwrap().tls);
    let both = text.replace("[tls]\n", "[tls]\ntailscale = true\n");
    let e = Config::parse(&both, &dir.join("supervisor.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("either `cert` and `key`, or `tailscale = true`"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn every_process_learns_where_its_siblings_listen() {
    let c = parse(&TWO.replace(
        "env = { PORT = \"7002\" }",
        "env = { PORT = \"7002\", PORTOS_PORT_A_API = \"9999\" }",
    ))
    .unwrap();
    let (a, b) = (c.process("a").unwrap(), c.process("b").unwrap());
    let get = |p: &crate::ProcessSpec, k: &str| p.env.get(k).cloned();
    assert_eq!(get(a, "PORTOS_PORT_A_API").as_deref(), Some("7001"));
    assert_eq!(get(a, "PORTOS_PORT_B_UI").as_deref(), Some("7002"));
    assert_eq!(get(b, "PORTOS_PORT_B_UI").as_deref(), Some("7002"));
    assert_eq!(
        get(b, "PORTOS_PORT_A_API").as_deref(),
        Some("9999"),
        "the table's own setting wins"
    );
}
