//! The Debian package `.ci/run` builds (`cargo deb`, in `target/debian/`): unpacked into a
//! scratch root with `dpkg-deb`, its files, modes, conffiles and maintainer scripts checked, and
//! the installed units accepted by `systemd-analyze verify`. A missing package fails the test,
//! loudly, unless `BOUNCEDOC_SKIP_PACKAGE=1` says to skip it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The newest package of this version in `target/debian/`.
fn package() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debian");
    let prefix = format!("bouncedoc_{}", env!("CARGO_PKG_VERSION"));
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".deb"))
        })
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .collect();
    found.sort();
    let newest = found.pop().map(|(_, p)| p);
    if newest.is_none() {
        let msg = format!(
            "no {prefix}*.deb in {}: build it as .ci/run does (`bouncedoc generate-assets target/assets`, gzip the man pages, `cargo deb`)",
            dir.display()
        );
        if std::env::var("BOUNCEDOC_SKIP_PACKAGE").is_ok_and(|v| v == "1") {
            eprintln!("\n!!! NOT RUN: {msg} (BOUNCEDOC_SKIP_PACKAGE=1)\n");
            return None;
        }
        panic!("{msg}, or set BOUNCEDOC_SKIP_PACKAGE=1 to skip this test");
    }
    newest
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_package_installs_the_daemon_its_units_and_an_unstarted_configuration() {
    use std::os::unix::fs::PermissionsExt;
    let Some(deb) = package() else { return };
    let root = std::env::temp_dir().join(format!("bouncedoc-deb-root-{}", std::process::id()));
    let control = root.with_extension("control");
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_dir_all(&control);
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root));
    run(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&control));

    for (path, mode) in [
        ("usr/bin/bouncedoc", 0o755),
        ("lib/systemd/system/bouncedoc.service", 0o644),
        ("lib/systemd/system/bouncedoc@.service", 0o644),
        ("usr/lib/systemd/user/bouncedoc.service", 0o644),
        ("usr/lib/sysusers.d/bouncedoc.conf", 0o644),
        ("etc/bouncedoc/config.yaml", 0o640),
        ("usr/share/man/man1/bouncedoc.1.gz", 0o644),
        ("usr/share/bash-completion/completions/bouncedoc", 0o644),
        ("usr/share/zsh/vendor-completions/_bouncedoc", 0o644),
        ("usr/share/fish/vendor_completions.d/bouncedoc.fish", 0o644),
        ("usr/share/doc/bouncedoc/examples/bouncedoc.rules.yml", 0o644),
        ("usr/share/doc/bouncedoc/examples/bouncedoc-dashboard.json", 0o644),
    ] {
        let meta = std::fs::metadata(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(meta.permissions().mode() & 0o777, mode, "{path}");
    }
    // The configuration shipped is the documented example, kept across upgrades (a conffile).
    assert_eq!(
        std::fs::read_to_string(root.join("etc/bouncedoc/config.yaml")).expect("config"),
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.yaml"))
            .expect("example")
    );
    let conffiles = std::fs::read_to_string(control.join("conffiles")).expect("conffiles");
    assert!(
        conffiles.lines().any(|l| l == "/etc/bouncedoc/config.yaml"),
        "{conffiles}"
    );
    // The system user is made; the service is neither enabled nor started before the admin
    // has edited the configuration.
    let postinst = std::fs::read_to_string(control.join("postinst")).expect("postinst");
    assert!(postinst.contains("systemd-sysusers bouncedoc.conf"), "{postinst}");
    assert!(
        postinst.contains("chgrp -h bouncedoc /etc/bouncedoc/config.yaml"),
        "{postinst}"
    );
    // (What it prints for the admin may name the command; what it runs may not.)
    let commands: Vec<&str> = postinst
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with("echo "))
        .collect();
    for forbidden in [
        "systemctl start",
        "systemctl enable",
        "systemctl restart",
        "deb-systemd-invoke",
    ] {
        assert!(
            !commands.iter().any(|l| l.contains(forbidden)),
            "postinst must not run {forbidden}:\n{postinst}"
        );
    }
    // Removing it stops a running daemon first; an upgrade restarts a running one only.
    let prerm = std::fs::read_to_string(control.join("prerm")).expect("prerm");
    assert!(
        prerm.contains("\"$1\" = \"remove\"") && prerm.contains("systemctl stop bouncedoc.service"),
        "{prerm}"
    );
    assert!(
        postinst.contains("systemctl try-restart bouncedoc.service"),
        "{postinst}"
    );
    // The packaged binary runs, and its man page and completions come from its own CLI.
    let version = run(Command::new(root.join("usr/bin/bouncedoc")).arg("--version"));
    assert!(version.contains(env!("CARGO_PKG_VERSION")), "{version}");
    let man = run(Command::new("gzip")
        .arg("-dc")
        .arg(root.join("usr/share/man/man1/bouncedoc.1.gz")))
    .replace("\\-", "-");
    for sub in ["check-config", "login", "status", "history", "diagnose"] {
        assert!(
            man.contains(&format!("bouncedoc-{sub}(1)")),
            "the man page lacks {sub}"
        );
        // Each page it names is there.
        let page = root.join(format!("usr/share/man/man1/bouncedoc-{sub}.1.gz"));
        assert!(page.is_file(), "{}", page.display());
    }
    let bash =
        std::fs::read_to_string(root.join("usr/share/bash-completion/completions/bouncedoc")).expect("bash");
    assert!(bash.contains("check-config") && bash.contains("--mailbox"));

    // The installed units, pointing at the installed binary, pass systemd-analyze verify.
    let bin = root.join("usr/bin/bouncedoc");
    for unit in ["bouncedoc.service", "bouncedoc@.service"] {
        let text = std::fs::read_to_string(root.join("lib/systemd/system").join(unit)).expect("unit");
        let check_dir = root.join("verify");
        std::fs::create_dir_all(&check_dir).expect("dir");
        let name = if unit.contains('@') {
            "bouncedoc@alice.service"
        } else {
            unit
        };
        let copy = check_dir.join(name);
        std::fs::write(
            &copy,
            text.replace("/usr/bin/bouncedoc", &bin.display().to_string()),
        )
        .expect("copy");
        let out = Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(&copy)
            .output()
            .expect("systemd-analyze (Debian package systemd)");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{unit}: {stderr}");
        assert!(!stderr.lines().any(|l| l.contains(name)), "{unit}: {stderr}");
    }
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_dir_all(&control);
}
