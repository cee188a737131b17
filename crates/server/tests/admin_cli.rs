//! The `finsync-server admin …` commands, run as the real binary against the database of a
//! running server: their effect is seen through the API, and every write is in the audit log
//! (actor `admin-cli`) without the key.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::Stack;

/// Runs `finsync-server admin <args>` on the stack's database with `stdin`; returns stdout.
fn admin(s: &Stack, args: &[&str], stdin: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_finsync-server"))
        .arg("admin")
        .args(args)
        .env("FINSYNC_DATABASE", &s.config.database)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run finsync-server");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("finsync-server output");
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        out.status.success(),
        "admin {args:?}: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

async fn key_status(s: &Stack, key: &str) -> String {
    let (st, body) = s.get(Some(key), "/api/v1/status").await;
    assert_eq!(st, 200, "{body}");
    body["keyStatus"].as_str().expect("keyStatus").to_string()
}

#[tokio::test]
async fn admin_commands_take_effect_and_are_audited_without_secrets() {
    let s = Stack::start().await;
    let org = admin(&s, &["create-organisation", "Cascadia Research"], "");
    let pop = admin(
        &s,
        &[
            "create-population",
            "--organisation",
            &org,
            "Southern Residents",
        ],
        "",
    );
    let key = admin(
        &s,
        &["create-key", "--population", &pop, "--label", "laptop"],
        "",
    );
    assert!(key.starts_with("fsk_"), "{key}");
    assert_eq!(key_status(&s, &key).await, "ready");

    let out = admin(
        &s,
        &["set-sync", "--population", &pop, "--enabled", "false"],
        "",
    );
    assert!(out.contains("off"), "{out}");
    assert_eq!(key_status(&s, &key).await, "accessDenied");

    assert_eq!(admin(&s, &["revoke-key"], &format!("{key}\n")), "revoked");
    assert_eq!(key_status(&s, &key).await, "invalid");
    assert_eq!(
        admin(&s, &["revoke-key"], &format!("{key}\n")),
        "no such active key"
    );

    // A population of an organisation that does not exist is refused, and nothing written.
    let before = s.count("SELECT COUNT(*) FROM audit_log");
    let bad = Command::new(env!("CARGO_BIN_EXE_finsync-server"))
        .args(["admin", "create-population", "--organisation", "999", "X"])
        .env("FINSYNC_DATABASE", &s.config.database)
        .output()
        .expect("run finsync-server");
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("organisation 999"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    assert_eq!(s.count("SELECT COUNT(*) FROM populations"), 1);
    assert_eq!(s.count("SELECT COUNT(*) FROM audit_log"), before);

    let entries: Vec<(String, String, String, Option<i64>)> =
        s.db.tx_blocking(|tx| {
            let mut st = tx.prepare(
                "SELECT actor, action, detail, population_id FROM audit_log ORDER BY id",
            )?;
            let rows = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .expect("audit log");
    let pop_id: i64 = pop.parse().unwrap();
    let actions: Vec<(&str, Option<i64>)> = entries
        .iter()
        .map(|(actor, action, _, p)| {
            assert_eq!(actor, "admin-cli", "{action}");
            (action.as_str(), *p)
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("organisation.create", None),
            ("population.create", Some(pop_id)),
            ("key.create", Some(pop_id)),
            ("population.sync", Some(pop_id)),
            ("key.revoke", Some(pop_id)),
        ]
    );
    assert!(entries[0].2.contains("Cascadia Research"), "{entries:?}");
    assert!(entries[3].2.contains("disabled"), "{entries:?}");
    let secret = key.trim_start_matches("fsk_");
    for (_, action, detail, _) in &entries {
        assert!(
            !detail.contains(secret) && !detail.contains(&key[..12]),
            "{action}: {detail}"
        );
    }
}
