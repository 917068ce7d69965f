//! The systemd packaging in `packaging/systemd/`: both units pass `systemd-analyze verify` without a
//! warning about them (with `/usr/bin/bouncedoc` pointed at the binary under test, since verify
//! checks that ExecStart exists), carry the directives the daemon relies on and the hardening, and
//! the sysusers file creates the `bouncedoc` user. Needs `systemd-analyze` and `systemd-sysusers`
//! (Debian package `systemd`, installed by `.ci/run`); nothing is started or installed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SYSTEMD_MISSING: &str =
    "is not installed: it comes with the Debian package `systemd`, which `.ci/run` installs";

fn packaging(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("packaging/systemd")
        .join(name)
}

fn read(name: &str) -> String {
    let path = packaging(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Runs a systemd tool, failing loudly (never skipping) when it is not installed.
fn run(program: &str, args: &[&str]) -> Output {
    match Command::new(program).args(args).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!("{program} {SYSTEMD_MISSING}"),
        Err(e) => panic!("cannot run {program}: {e}"),
    }
}

fn temp_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bouncedoc-systemd-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// The `Key=value` lines of a unit file, comments and section headers left out.
fn directives(unit: &str) -> Vec<&str> {
    unit.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(['#', ';', '[']))
        .collect()
}

/// Copies `file` into a temp dir as `as_name`, pointing ExecStart at the built binary, and
/// verifies it there.
fn verify(file: &str, as_name: &str) {
    let bin = env!("CARGO_BIN_EXE_bouncedoc");
    assert!(
        !bin.contains(char::is_whitespace),
        "binary path {bin:?} would split ExecStart"
    );
    let unit = read(file);
    assert!(
        unit.contains("/usr/bin/bouncedoc "),
        "{file}: ExecStart should run /usr/bin/bouncedoc"
    );
    let dir = temp_dir(&as_name.replace(['@', '.'], "-"));
    let copy = dir.join(as_name);
    std::fs::write(&copy, unit.replace("/usr/bin/bouncedoc", bin)).expect("write unit copy");
    let copy = copy.to_str().expect("temp path is UTF-8");

    let out = run("systemd-analyze", &["verify", "--man=no", copy]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "systemd-analyze verify --man=no {copy} failed ({}):\n{stderr}",
        out.status
    );
    let ours: Vec<&str> = stderr.lines().filter(|l| l.contains(as_name)).collect();
    assert!(
        ours.is_empty(),
        "systemd-analyze verify warns about {file} (checked as {as_name}):\n{}\n\nfull stderr:\n{stderr}",
        ours.join("\n")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// What both units must say (the template differs only in the config path and state directory).
fn assert_directives(file: &str, exec_start: &str, state_directory: &str) {
    let unit = read(file);
    let have = directives(&unit);
    let exec_start = format!("ExecStart={exec_start}");
    let state_directory = format!("StateDirectory={state_directory}");
    let required = [
        "Type=notify",
        "NotifyAccess=main",
        exec_start.as_str(),
        "ExecReload=/bin/kill -HUP $MAINPID",
        "WatchdogSec=60",
        "Restart=on-failure",
        "RestartPreventExitStatus=78",
        "TimeoutStopSec=15",
        "User=bouncedoc",
        "Group=bouncedoc",
        state_directory.as_str(),
        "ConfigurationDirectory=bouncedoc",
        "UMask=0077",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "CapabilityBoundingSet=",
        "AmbientCapabilities=",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        "SystemCallFilter=@system-service",
        "SystemCallArchitectures=native",
        "MemoryDenyWriteExecute=yes",
        "MemoryMax=2G",
        "TasksMax=512",
        "StartLimitIntervalSec=600",
        "StartLimitBurst=5",
    ];
    let missing: Vec<&str> = required.into_iter().filter(|d| !have.contains(d)).collect();
    assert!(missing.is_empty(), "{file} lacks: {missing:?}");
    // password_command runs `sh -c`: nothing may stop /bin/sh from being executed.
    let blocking: Vec<&&str> = have
        .iter()
        .filter(|d| d.starts_with("NoExecPaths=") || d.starts_with("ExecPaths="))
        .collect();
    assert!(
        blocking.is_empty(),
        "{file} restricts executables, password_command needs sh: {blocking:?}"
    );
}

#[test]
fn service_unit_verifies_clean() {
    verify("bouncedoc.service", "bouncedoc.service");
}

#[test]
fn template_unit_verifies_clean_as_an_instance() {
    verify("bouncedoc@.service", "bouncedoc@alice.service");
}

#[test]
fn service_unit_has_the_required_directives() {
    assert_directives(
        "bouncedoc.service",
        "/usr/bin/bouncedoc run --config /etc/bouncedoc/config.yaml",
        "bouncedoc",
    );
}

#[test]
fn template_unit_has_the_required_directives() {
    assert_directives(
        "bouncedoc@.service",
        "/usr/bin/bouncedoc run --config /etc/bouncedoc/%i.yaml",
        "bouncedoc/%i",
    );
}

#[test]
fn sysusers_file_creates_the_bouncedoc_user() {
    let root = temp_dir("sysusers");
    std::fs::create_dir_all(root.join("etc")).expect("create etc");
    for f in ["passwd", "group"] {
        std::fs::write(root.join("etc").join(f), "").expect("write empty passwd/group");
    }
    let root_arg = format!("--root={}", root.display());
    let file = packaging("bouncedoc.sysusers");
    let file = file.to_str().expect("path is UTF-8");
    let out = run("systemd-sysusers", &["--dry-run", &root_arg, file]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "systemd-sysusers --dry-run failed ({}):\n{stderr}",
        out.status
    );
    for wanted in ["Creating group 'bouncedoc'", "Creating user 'bouncedoc'"] {
        assert!(
            stderr.contains(wanted),
            "systemd-sysusers did not say {wanted:?}:\n{stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn user_unit_verifies_clean_and_uses_the_per_user_defaults() {
    let bin = env!("CARGO_BIN_EXE_bouncedoc");
    let unit = read("user/bouncedoc.service");
    let have = directives(&unit);
    // No --config: the per-user defaults (XDG) apply.
    for d in [
        "ExecStart=/usr/bin/bouncedoc run",
        "Type=notify",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "RestartPreventExitStatus=78",
        "WantedBy=default.target",
    ] {
        assert!(have.contains(&d), "user unit lacks {d}");
    }
    assert!(!unit.contains("User="), "a user unit runs as its user");
    let dir = temp_dir("user");
    let runtime = dir.join("runtime");
    std::fs::create_dir_all(&runtime).expect("runtime dir");
    std::fs::set_permissions(&runtime, std::os::unix::fs::PermissionsExt::from_mode(0o700)).expect("mode");
    let copy = dir.join("bouncedoc.service");
    std::fs::write(&copy, unit.replace("/usr/bin/bouncedoc", bin)).expect("write unit copy");
    // The user manager's checks need a runtime directory, as a logged-in user has.
    let out = Command::new("systemd-analyze")
        .args(["--user", "verify", "--man=no"])
        .arg(&copy)
        .env("XDG_RUNTIME_DIR", &runtime)
        .output()
        .unwrap_or_else(|e| panic!("systemd-analyze {SYSTEMD_MISSING} ({e})"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "systemd-analyze --user verify failed:\n{stderr}"
    );
    assert!(
        !stderr.contains("bouncedoc.service"),
        "warnings about the unit:\n{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
