//! Sign-in, key provisioning and revocation, users, populations, rate limiting and the audit
//! log, against the real server and Azurite.

mod common;

use common::Stack;
use finsync_core::api::{OrganisationRole, PopulationRole};
use serde_json::json;

const PW: &str = "correct horse battery";

fn encounter() -> serde_json::Value {
    json!({"date": "2024-07-15", "locationName": "Haro", "photographer": "Jane"})
}

#[tokio::test]
async fn sign_in_provisions_keys_for_populations_with_a_role() {
    let s = Stack::start().await;
    let (a, _) = s.population("A", true);
    let (b, _) = s.population("B", true);
    let org_a = s.organisation_of(a);
    s.user(
        "expert@example.org",
        PW,
        org_a,
        OrganisationRole::Member,
        Some((a, PopulationRole::Expert)),
    );
    s.user(
        "member@example.org",
        PW,
        org_a,
        OrganisationRole::Member,
        None,
    );
    s.user(
        "admin@example.org",
        PW,
        org_a,
        OrganisationRole::Admin,
        None,
    );

    // Wrong password and unknown email look alike.
    for (email, pw) in [
        ("expert@example.org", "wrong password"),
        ("nobody@example.org", PW),
    ] {
        let (st, err) = s
            .post(
                "",
                "/api/v1/auth/sign-in",
                json!({"email": email, "password": pw}),
            )
            .await;
        assert_eq!(
            (st, err["code"].as_str()),
            (401, Some("invalidCredentials"))
        );
    }
    let (st, err) = s
        .post(
            "",
            "/api/v1/auth/sign-in",
            json!({"email": "x@example.org"}),
        )
        .await;
    assert_eq!((st, err["code"].as_str()), (400, Some("invalidJson")));

    let (st, info) = s
        .post(
            "",
            "/api/v1/auth/sign-in",
            json!({"email": " Expert@Example.org ", "password": PW}),
        )
        .await;
    assert_eq!(st, 200, "{info}");
    let token = info["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("fss_"));
    assert_eq!(info["populations"][0]["id"], a);
    assert_eq!(info["populations"][0]["role"], "expert");
    assert_eq!(info["populations"].as_array().unwrap().len(), 1);
    let (st, me) = s.get(Some(&token), "/api/v1/auth/me").await;
    assert_eq!(
        (st, me["user"]["email"].as_str()),
        (200, Some("expert@example.org"))
    );
    assert!(me["token"].is_null());

    // Provision for A: a key whose status is ready.
    let (st, prov) = s
        .post(
            &token,
            "/api/v1/keys/provision",
            json!({"populationId": a, "label": "laptop"}),
        )
        .await;
    assert_eq!(st, 200, "{prov}");
    assert_eq!(prov["keyStatus"], "ready");
    let key = prov["apiKey"].as_str().unwrap().to_string();
    let (_, status) = s.get(Some(&key), "/api/v1/status").await;
    assert_eq!(
        (
            status["keyStatus"].as_str(),
            status["population"]["id"].as_i64()
        ),
        (Some("ready"), Some(a))
    );
    let (st, _) = s
        .post(&key, "/api/v1/encounters/find-or-create", encounter())
        .await;
    assert_eq!(st, 200);

    // No role in B (other organisation) or a population that does not exist → 403.
    for pop in [b, 9999] {
        let (st, err) = s
            .post(
                &token,
                "/api/v1/keys/provision",
                json!({"populationId": pop}),
            )
            .await;
        assert_eq!(
            (st, err["code"].as_str()),
            (403, Some("forbidden")),
            "{pop}"
        );
    }
    // A member without a population role cannot; an organisation admin can.
    let member = s.sign_in("member@example.org", PW).await;
    let (st, _) = s
        .post(
            &member,
            "/api/v1/keys/provision",
            json!({"populationId": a}),
        )
        .await;
    assert_eq!(st, 403);
    let admin = s.sign_in("admin@example.org", PW).await;
    let (st, _) = s
        .post(&admin, "/api/v1/keys/provision", json!({"populationId": a}))
        .await;
    assert_eq!(st, 200);
    // An API key is not a session, and bad input writes nothing.
    let (st, err) = s
        .post(&key, "/api/v1/keys/provision", json!({"populationId": a}))
        .await;
    assert_eq!((st, err["code"].as_str()), (401, Some("invalidSession")));
    let keys_before = s.count("SELECT COUNT(*) FROM api_keys");
    let (st, _) = s
        .post(
            &token,
            "/api/v1/keys/provision",
            json!({"populationId": a, "label": ""}),
        )
        .await;
    assert_eq!(st, 400);
    let (st, _) = s
        .post(
            &token,
            "/api/v1/keys/provision",
            json!({"populationId": "a"}),
        )
        .await;
    assert_eq!(st, 400);
    assert_eq!(s.count("SELECT COUNT(*) FROM api_keys"), keys_before);

    // Sync off → the provisioned key says accessDenied.
    s.db.tx_blocking(|tx| finsync_server::db::set_sync_enabled(tx, a, false))
        .unwrap();
    let (_, prov2) = s
        .post(&token, "/api/v1/keys/provision", json!({"populationId": a}))
        .await;
    assert_eq!(prov2["keyStatus"], "accessDenied");
    let (_, status) = s.get(Some(&key), "/api/v1/status").await;
    assert_eq!(status["keyStatus"], "accessDenied");

    // Sign-out and expiry end a session.
    let resp = s
        .http
        .post(s.url("/api/v1/auth/sign-out"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    let (st, err) = s.get(Some(&token), "/api/v1/auth/me").await;
    assert_eq!((st, err["code"].as_str()), (401, Some("invalidSession")));
    s.db.tx_blocking(|tx| Ok(tx.execute("UPDATE user_sessions SET expires_at = 1", [])?))
        .unwrap();
    let (st, _) = s.get(Some(&admin), "/api/v1/auth/me").await;
    assert_eq!(st, 401);
    // Nothing secret was stored in clear.
    assert_eq!(
        s.count("SELECT COUNT(*) FROM users WHERE password_hash NOT LIKE '$argon2id$%'"),
        0
    );
    assert_eq!(
        s.count(&format!(
            "SELECT COUNT(*) FROM api_keys WHERE key_hash = '{key}'"
        )),
        0
    );
}

#[tokio::test]
async fn keys_are_revocable_by_organisation_admins_and_owners() {
    let s = Stack::start().await;
    let (a, _) = s.population("A", true);
    let (b, _) = s.population("B", true);
    let org_a = s.organisation_of(a);
    let org_b = s.organisation_of(b);
    s.user(
        "owner@example.org",
        PW,
        org_a,
        OrganisationRole::Member,
        Some((a, PopulationRole::Professional)),
    );
    s.user(
        "peer@example.org",
        PW,
        org_a,
        OrganisationRole::Member,
        Some((a, PopulationRole::Viewer)),
    );
    s.user(
        "admin@example.org",
        PW,
        org_a,
        OrganisationRole::Admin,
        None,
    );
    s.user(
        "stranger@example.org",
        PW,
        org_b,
        OrganisationRole::Admin,
        None,
    );
    let owner = s.sign_in("owner@example.org", PW).await;
    let peer = s.sign_in("peer@example.org", PW).await;
    let admin = s.sign_in("admin@example.org", PW).await;
    let stranger = s.sign_in("stranger@example.org", PW).await;
    let (_, k1) = s
        .post(&owner, "/api/v1/keys/provision", json!({"populationId": a}))
        .await;
    let (_, k2) = s
        .post(&owner, "/api/v1/keys/provision", json!({"populationId": a}))
        .await;
    let (id1, id2) = (k1["keyId"].as_i64().unwrap(), k2["keyId"].as_i64().unwrap());

    // The admin sees every key of A (incl. the CLI one); the owner their own two.
    let (_, all) = s
        .get(Some(&admin), &format!("/api/v1/keys?populationId={a}"))
        .await;
    assert_eq!(all["keys"].as_array().unwrap().len(), 3, "{all}");
    let (_, mine) = s.get(Some(&owner), "/api/v1/keys").await;
    assert_eq!(mine["keys"].as_array().unwrap().len(), 2);
    assert!(!all.to_string().contains("fsk_"), "keys are never listed");

    // Neither a peer nor another organisation's admin can revoke (or see) it.
    for who in [&peer, &stranger] {
        let (st, err) = s
            .post(who, &format!("/api/v1/keys/{id1}/revoke"), json!({}))
            .await;
        assert_eq!((st, err["code"].as_str()), (404, Some("notFound")));
    }
    let (st, r) = s
        .post(&admin, &format!("/api/v1/keys/{id1}/revoke"), json!({}))
        .await;
    assert_eq!(st, 200, "{r}");
    assert!(r["revokedAt"].is_string());
    let (st, again) = s
        .post(&admin, &format!("/api/v1/keys/{id1}/revoke"), json!({}))
        .await;
    assert_eq!(
        (st, &again["revokedAt"]),
        (200, &r["revokedAt"]),
        "idempotent"
    );
    let (st, _) = s
        .post(&owner, &format!("/api/v1/keys/{id2}/revoke"), json!({}))
        .await;
    assert_eq!(st, 200);
    for k in [&k1, &k2] {
        let key = k["apiKey"].as_str().unwrap();
        let (_, status) = s.get(Some(key), "/api/v1/status").await;
        assert_eq!(status["keyStatus"], "invalid");
        let (st, err) = s
            .post(key, "/api/v1/encounters/find-or-create", encounter())
            .await;
        assert_eq!((st, err["code"].as_str()), (401, Some("invalidKey")));
    }
    // A key is not a session.
    let (st, _) = s
        .post(
            k1["apiKey"].as_str().unwrap(),
            &format!("/api/v1/keys/{id2}/revoke"),
            json!({}),
        )
        .await;
    assert_eq!(st, 401);
}

#[tokio::test]
async fn users_are_searched_and_created_on_sync_idempotently() {
    let s = Stack::start().await;
    let (a, key_a) = s.population("A", true);
    let (b, key_b) = s.population("B", true);
    s.user(
        "rebecca.wellard@example.org",
        PW,
        s.organisation_of(a),
        OrganisationRole::Member,
        None,
    );
    s.user(
        "other@example.org",
        PW,
        s.organisation_of(b),
        OrganisationRole::Member,
        None,
    );

    let (st, found) = s.get(Some(&key_a), "/api/v1/users?query=WELL").await;
    assert_eq!(st, 200);
    assert_eq!(found["users"].as_array().unwrap().len(), 1, "{found}");
    let (_, none) = s.get(Some(&key_b), "/api/v1/users?query=well").await;
    assert_eq!(
        none["users"].as_array().unwrap().len(),
        0,
        "other organisations' users stay hidden"
    );
    let (_, all) = s.get(Some(&key_a), "/api/v1/users").await;
    assert_eq!(all["users"].as_array().unwrap().len(), 1);
    let (st, _) = s.get(Some(&key_a), "/api/v1/users?limit=0").await;
    assert_eq!(st, 400);
    let (st, _) = s.get(Some(&key_a), "/api/v1/users?surprise=1").await;
    assert_eq!(st, 400);

    // Create on sync without an email: placeholder, and the same answer again.
    let body = json!({"firstName": "Brian", "lastName": "  Wu "});
    let (st, u1) = s.post(&key_a, "/api/v1/users", body.clone()).await;
    assert_eq!(st, 201, "{u1}");
    assert_eq!(u1["created"], true);
    assert_eq!(u1["user"]["placeholderEmail"], true);
    assert_eq!(u1["user"]["lastName"], "Wu");
    let (st, u2) = s.post(&key_a, "/api/v1/users", body).await;
    assert_eq!(
        (st, &u2["user"]["id"], &u2["created"]),
        (200, &u1["user"]["id"], &json!(false))
    );
    // With an email: idempotent on it (case-insensitive).
    let (st, u3) = s
        .post(
            &key_a,
            "/api/v1/users",
            json!({"firstName": "Ann", "lastName": "Lee", "email": "Ann@Example.org"}),
        )
        .await;
    assert_eq!(st, 201);
    let (st, u4) = s
        .post(
            &key_a,
            "/api/v1/users",
            json!({"firstName": "Ann", "lastName": "Lee", "email": "ann@example.org"}),
        )
        .await;
    assert_eq!((st, &u4["user"]["id"]), (200, &u3["user"]["id"]));
    // Someone else's user: 409, never linked silently.
    let (st, err) = s
        .post(
            &key_a,
            "/api/v1/users",
            json!({"firstName": "O", "lastName": "T", "email": "other@example.org"}),
        )
        .await;
    assert_eq!((st, err["code"].as_str()), (409, Some("emailInUse")));
    // Bad input: 400 and nothing written.
    let users = s.count("SELECT COUNT(*) FROM users");
    for (body, code) in [
        (
            json!({"firstName": "A", "lastName": "B", "email": "not-an-email"}),
            "invalidEmail",
        ),
        (json!({"firstName": "", "lastName": "B"}), "invalidName"),
        (json!({"firstName": "A"}), "invalidJson"),
    ] {
        let (st, err) = s.post(&key_a, "/api/v1/users", body).await;
        assert_eq!((st, err["code"].as_str()), (400, Some(code)));
    }
    assert_eq!(s.count("SELECT COUNT(*) FROM users"), users);
    let (_, found) = s.get(Some(&key_a), "/api/v1/users?query=wu").await;
    assert_eq!(found["users"][0]["firstName"], "Brian");
}

#[tokio::test]
async fn encounters_reference_their_photographer_user_of_the_organisation() {
    let s = Stack::start().await;
    let (_, key_a) = s.population("A", true);
    let (_, key_b) = s.population("B", true);
    let (_, made) = s
        .post(
            &key_a,
            "/api/v1/users",
            json!({"firstName": "Bo", "lastName": "Ek"}),
        )
        .await;
    let bo = made["user"]["id"].as_i64().unwrap();
    let enc = json!({
        "date": "2024-07-15", "locationName": "Haro", "photographer": "Bo Ek",
        "photographerUserId": bo
    });
    // Not a member of B's organisation: refused, nothing written.
    let before = s.count("SELECT COUNT(*) FROM encounters");
    let (st, err) = s
        .post(&key_b, "/api/v1/encounters/find-or-create", enc.clone())
        .await;
    assert_eq!(
        (st, err["code"].as_str()),
        (400, Some("invalidPhotographerUser"))
    );
    assert_eq!(s.count("SELECT COUNT(*) FROM encounters"), before);
    let (st, created) = s
        .post(&key_a, "/api/v1/encounters/find-or-create", enc)
        .await;
    assert_eq!(st, 200, "{created}");
    let id = created["id"].as_i64().unwrap();
    let (_, detail) = s
        .get(Some(&key_a), &format!("/api/v1/encounters/{id}"))
        .await;
    assert_eq!(detail["photographerUserId"], bo);
    assert_eq!(detail["photographer"], "Bo Ek");
    // Without one (old clients), the encounter names no user.
    let (_, plain) = s
        .post(
            &key_a,
            "/api/v1/encounters/find-or-create",
            json!({"date": "2024-07-16", "locationName": "Haro", "photographer": "Bo Ek"}),
        )
        .await;
    let (_, detail) = s
        .get(
            Some(&key_a),
            &format!("/api/v1/encounters/{}", plain["id"].as_i64().unwrap()),
        )
        .await;
    assert_eq!(detail["photographerUserId"], serde_json::Value::Null);
}

#[tokio::test]
async fn populations_are_listed_with_counts() {
    let s = Stack::start().await;
    let (a, key_a) = s.population("A", true);
    let (b, _) = s.population("B", false);
    let org_a = s.organisation_of(a);
    s.user(
        "u@example.org",
        PW,
        org_a,
        OrganisationRole::Member,
        Some((a, PopulationRole::Admin)),
    );
    s.db.tx_blocking(|tx| {
        let uid = finsync_server::accounts::user_by_email(tx, "u@example.org")?
            .unwrap()
            .id;
        finsync_server::accounts::set_population_role(tx, b, uid, Some(PopulationRole::Viewer))
    })
    .unwrap();
    s.post(&key_a, "/api/v1/encounters/find-or-create", encounter())
        .await;
    s.post(
        &key_a,
        "/api/v1/individuals/ensure",
        json!({"ids": ["J047", "T002B"]}),
    )
    .await;
    let (st, list) = s.get(Some(&key_a), "/api/v1/populations").await;
    assert_eq!(st, 200);
    let p = &list["populations"];
    assert_eq!(p.as_array().unwrap().len(), 1);
    assert_eq!(
        p[0]["counts"],
        json!({"encounters": 1, "images": 0, "individuals": 2})
    );
    assert_eq!(p[0]["organisationId"], org_a);
    let token = s.sign_in("u@example.org", PW).await;
    let (_, list) = s.get(Some(&token), "/api/v1/populations").await;
    let p = list["populations"].as_array().unwrap();
    assert_eq!(p.len(), 2);
    assert_eq!(
        (p[0]["role"].as_str(), p[1]["role"].as_str()),
        (Some("admin"), Some("viewer"))
    );
    assert_eq!(p[1]["syncEnabled"], false);
    let (st, _) = s.get(None, "/api/v1/populations").await;
    assert_eq!(st, 401);
}

#[tokio::test]
async fn repeated_bad_credentials_are_rate_limited_per_address() {
    let s = Stack::start_with(|c| {
        c.auth_failure_burst = 3;
        c.auth_failure_refill_secs = 60.0;
        c.trust_forwarded_for = true;
    })
    .await;
    let (_, key) = s.population("A", true);
    let from = |ip: &'static str| {
        let http = s.http.clone();
        let url = s.url("/api/v1/status");
        move |k: &str| {
            http.get(url.clone())
                .bearer_auth(k)
                .header("x-forwarded-for", ip)
                .send()
        }
    };
    let attacker = from("203.0.113.7");
    for _ in 0..3 {
        assert_eq!(attacker("fsk_guess").await.unwrap().status().as_u16(), 200);
    }
    let blocked = attacker("fsk_guess").await.unwrap();
    assert_eq!(blocked.status().as_u16(), 429);
    let retry: u64 = blocked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let body: serde_json::Value = blocked.json().await.unwrap();
    assert_eq!(body["code"], "rateLimited");
    // While blocked, a valid key from that address is refused too (no oracle) …
    assert_eq!(attacker(&key).await.unwrap().status().as_u16(), 429);
    // … and so are sign-ins.
    let resp = s
        .http
        .post(s.url("/api/v1/auth/sign-in"))
        .header("x-forwarded-for", "203.0.113.7")
        .json(&json!({"email": "a@b.cd", "password": "whatever1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    // Other addresses are unaffected; requests without credentials are never limited.
    assert_eq!(
        from("198.51.100.2")(&key).await.unwrap().status().as_u16(),
        200
    );
    let anon = s
        .http
        .get(s.url("/api/v1/status"))
        .header("x-forwarded-for", "203.0.113.7")
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status().as_u16(), 200);
    // Bad session tokens and wrong passwords count as well.
    let victim = from("192.0.2.9");
    for _ in 0..3 {
        let r = s
            .http
            .get(s.url("/api/v1/auth/me"))
            .bearer_auth("fss_guess")
            .header("x-forwarded-for", "192.0.2.9")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
    }
    assert_eq!(victim(&key).await.unwrap().status().as_u16(), 429);
}

#[tokio::test]
async fn audit_log_records_writes_by_key_without_secrets() {
    let s = Stack::start().await;
    let (a, key_a) = s.population("A", true);
    let (_, key_b) = s.population("B", true);
    s.user(
        "u@example.org",
        PW,
        s.organisation_of(a),
        OrganisationRole::Member,
        Some((a, PopulationRole::Expert)),
    );
    let token = s.sign_in("u@example.org", PW).await;
    let (_, prov) = s
        .post(&token, "/api/v1/keys/provision", json!({"populationId": a}))
        .await;
    let user_key = prov["apiKey"].as_str().unwrap().to_string();
    let (_, enc) = s
        .post(
            &user_key,
            "/api/v1/encounters/find-or-create",
            json!({
                "date": "2024-07-15", "locationName": "Haro", "photographer": "Jane",
                "license": "public", "knownIndividuals": ["J047"]
            }),
        )
        .await;
    s.post(
        &key_a,
        "/api/v1/users",
        json!({"firstName": "Brian", "lastName": "Wu"}),
    )
    .await;
    s.post(
        &key_a,
        "/api/v1/individuals/ensure",
        json!({"ids": ["T002B"]}),
    )
    .await;

    let (st, page) = s.get(Some(&key_a), "/api/v1/audit?limit=3").await;
    assert_eq!(st, 200, "{page}");
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0]["action"], "individual.ensure");
    assert_eq!(entries[1]["action"], "user.create");
    assert!(entries[0]["actor"].as_str().unwrap().starts_with("key:"));
    let before = page["nextBefore"].as_i64().unwrap();
    let (_, rest) = s
        .get(Some(&key_a), &format!("/api/v1/audit?before={before}"))
        .await;
    let rest = rest["entries"].as_array().unwrap().clone();
    let actions: Vec<&str> = rest.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(
        actions.contains(&"encounter.create") && actions.contains(&"key.create"),
        "{actions:?}"
    );
    let creator = rest
        .iter()
        .find(|e| e["action"] == "encounter.create")
        .unwrap();
    assert!(
        creator["actor"].as_str().unwrap().contains("/user:"),
        "{creator}"
    );
    assert!(rest.iter().all(|e| e["id"].as_i64().unwrap() < before));
    assert!(enc["id"].is_i64());
    // Nothing secret anywhere in the log.
    let all: String =
        s.db.tx_blocking(|tx| {
            let mut st =
                tx.prepare("SELECT actor || ' ' || action || ' ' || detail FROM audit_log")?;
            let rows = st
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows.join("\n"))
        })
        .unwrap();
    for secret in ["fsk_", "fss_", "sig=", PW, "argon2"] {
        assert!(!all.contains(secret), "{secret} in audit log:\n{all}");
    }
    // Another population sees none of it; bad paging input is a 400.
    let (_, other) = s.get(Some(&key_b), "/api/v1/audit").await;
    assert!(
        other["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["action"] == "key.create"),
        "{other}"
    );
    for q in ["limit=0", "limit=201", "before=x"] {
        let (st, err) = s.get(Some(&key_a), &format!("/api/v1/audit?{q}")).await;
        assert_eq!(
            (st, err["code"].as_str()),
            (400, Some("invalidQuery")),
            "{q}"
        );
    }
}
