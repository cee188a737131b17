//! This browser's API keys, one per population (spec §3.1): the pasted key of Settings (or the
//! demo key) and the keys provisioned after sign-in (IndexedDB `apiKeys`), their statuses as
//! the server reports them, the sign-in session, and provisioning when the Sync page opens.
//!
//! Keys and the session token are kept in IndexedDB and in memory and sent only in
//! `Authorization` headers: never in a URL, a log or the activity log ([`KeyState`]'s `Debug`
//! hides them).

use std::collections::HashSet;

use finsync_core::api::{KeyStatus, PopulationRef};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::activity::{self, Category};
use crate::api::{CallError, Client};
use crate::app::AppState;
use crate::store::{server_origin, StoredKey, StoredSession};
use crate::ui::connection::{Connection, KeyLine};

/// One key of this browser: what is shown, and the key itself (empty while provisioning or
/// when provisioning failed).
#[derive(Clone, PartialEq)]
pub struct KeyState {
    pub line: KeyLine,
    secret: String,
    /// The origin of the server the key belongs to ([`server_origin`]).
    server: String,
}

impl std::fmt::Debug for KeyState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyState")
            .field("line", &self.line)
            .field("secret", &"(hidden)")
            .field("server", &self.server)
            .finish()
    }
}

fn population_id(k: &KeyState) -> Option<i64> {
    k.line.population.as_ref().map(|p| p.id)
}

/// One line per population: where a pasted and a provisioned key name the same population,
/// the ready one (the pasted one when both are). Keys of no known population stay.
fn one_per_population(keys: Vec<KeyState>) -> Vec<KeyState> {
    let rank = |k: &KeyState| (k.line.status == KeyStatus::Ready, k.line.pasted);
    let mut out: Vec<KeyState> = Vec::new();
    for k in keys {
        match population_id(&k).and_then(|p| out.iter().position(|o| population_id(o) == Some(p))) {
            Some(i) if rank(&k) > rank(&out[i]) => out[i] = k,
            Some(_) => {}
            None => out.push(k),
        }
    }
    out
}

/// The Web Lock provisioning holds, so two tabs do not create two keys for one population.
const PROVISION_LOCK: &str = "finsync-provision-keys";

const SIGN_IN_ENDED: &str = "Your sign-in has ended: sign in again under Settings → Get an API key, then open the Sync page.";

/// Why provisioning stopped before the last population.
#[derive(Clone, Copy)]
enum Stop {
    /// Signed out, the session ended (401) or another sign-in replaced it.
    SignInEnded,
    /// The server URL now names another server.
    ServerChanged,
}

fn ms_now() -> f64 {
    js_sys::Date::now()
}

impl AppState {
    /// The keys as shown (without the keys themselves).
    pub fn key_lines(self) -> Vec<KeyLine> {
        self.keys
            .with(|k| k.iter().map(|k| k.line.clone()).collect())
    }

    /// Populations this browser has a key for (any status), in key order.
    pub fn key_populations(self) -> Vec<(PopulationRef, KeyLine)> {
        self.keys.with(|k| {
            k.iter()
                .filter_map(|k| k.line.population.clone().map(|p| (p, k.line.clone())))
                .collect()
        })
    }

    /// Populations with a ready key.
    pub fn ready_populations(self) -> Vec<PopulationRef> {
        self.keys.with(|k| {
            k.iter()
                .filter(|k| k.line.status == KeyStatus::Ready)
                .filter_map(|k| k.line.population.clone())
                .collect()
        })
    }

    /// Where new folder uploads and new manifests go: the chosen population if its key is
    /// ready, else the first ready one.
    pub fn upload_population(self) -> Option<PopulationRef> {
        let ready = self.ready_populations();
        let chosen = self.chosen_population.get();
        ready
            .iter()
            .find(|p| Some(p.id) == chosen)
            .or(ready.first())
            .cloned()
    }

    /// A client with the ready key of `population_id`, or what to do about it.
    pub fn client_for(self, population_id: i64) -> Result<Client, String> {
        let server = self.settings.with_untracked(|s| s.server_url.clone());
        let origin = server_origin(&server);
        self.keys.with_untracked(|keys| {
            let k = keys
                .iter()
                .find(|k| k.server == origin && crate::keys::population_id(k) == Some(population_id))
                .ok_or_else(|| {
                    format!(
                        "This browser has no API key for population {population_id}: sign in under Settings → Get an API key and open the Sync page, or paste that population's key in Settings."
                    )
                })?;
            if k.line.status == KeyStatus::Ready && !k.secret.is_empty() {
                Ok(Client::new(&server, &k.secret))
            } else {
                let name = k
                    .line
                    .population
                    .as_ref()
                    .map(|p| p.name.clone())
                    .unwrap_or_default();
                Err(format!("The API key for {name} is not ready ({}): {}", k.line.label(), k.line.hint()))
            }
        })
    }

    /// The origin of the server URL now ([`server_origin`]); keys and the session of other
    /// origins are never sent.
    fn origin_now(self) -> String {
        self.settings
            .with_untracked(|s| server_origin(&s.server_url))
    }

    /// The sign-in session if it belongs to the server URL now (tracked, for views).
    pub fn current_session(self) -> Option<StoredSession> {
        let origin = self.settings.with(|s| server_origin(&s.server_url));
        self.session
            .with(|s| s.as_ref().filter(|s| s.server == origin).cloned())
    }

    /// Checks the server and the status of every key now. Only the keys of the server URL's
    /// origin are asked about (and kept in memory); a key the server called invalid is not
    /// asked about again.
    pub fn check_server(self) {
        let s = self.settings.get_untracked();
        if s.server_url.is_empty() {
            self.connection.set(Connection::Unconfigured);
            self.keys.set(Vec::new());
            return;
        }
        let origin = server_origin(&s.server_url);
        if self
            .keys
            .with_untracked(|k| k.iter().any(|k| k.server != origin))
        {
            self.keys.update(|k| k.retain(|k| k.server == origin));
        }
        self.connection.set(Connection::Checking);
        spawn_local(async move {
            let stored = match self.store.get_untracked() {
                Some(st) => st.api_keys(&origin).await.unwrap_or_else(|e| {
                    self.error.set(Some(e.to_string()));
                    Vec::new()
                }),
                None => Vec::new(),
            };
            let mut candidates: Vec<(String, bool, Option<PopulationRef>)> = Vec::new();
            if !s.api_key.trim().is_empty() {
                candidates.push((s.api_key.trim().to_string(), true, None));
            }
            for k in stored {
                candidates.push((
                    k.api_key,
                    false,
                    Some(PopulationRef {
                        id: k.population_id,
                        name: k.population_name,
                        organisation: k.organisation,
                    }),
                ));
            }
            let server = s.server_url.clone();
            let previous = self.keys.get_untracked();
            let before = |secret: &str| previous.iter().find(|k| k.secret == secret).cloned();
            // A key the server rejected stays rejected: it is shown, not polled.
            let mut fresh = Vec::new();
            let mut to_ask = Vec::new();
            for c in candidates {
                match before(&c.0) {
                    Some(k) if k.line.status == KeyStatus::Invalid && !k.line.unknown => {
                        fresh.push(k)
                    }
                    _ => to_ask.push(c),
                }
            }
            let answers = if to_ask.is_empty() {
                vec![Client::new(&server, "").status().await]
            } else {
                futures::future::join_all(
                    to_ask
                        .iter()
                        .map(|(key, ..)| async { Client::new(&server, key).status().await }),
                )
                .await
            };
            if self.origin_now() != origin {
                // The server URL changed meanwhile: these answers are of the old server.
                return;
            }
            let version = answers
                .iter()
                .find_map(|a| a.as_ref().ok().map(|st| st.server_version.clone()));
            let Some(version) = version else {
                let why = answers
                    .into_iter()
                    .find_map(Result::err)
                    .map(|e| e.to_string())
                    .unwrap_or_default();
                self.connection.set(Connection::Unreachable(why));
                return;
            };
            for ((secret, pasted, stored_population), answer) in to_ask.into_iter().zip(answers) {
                let line = match answer {
                    Ok(st) => KeyLine {
                        // An invalid provisioned key keeps its population, so its card
                        // and Settings can offer to re-provision it.
                        population: st.population.or(stored_population),
                        status: st.key_status,
                        pasted,
                        problem: None,
                        unknown: false,
                    },
                    // The server answered for other keys: only this one is unknown for now.
                    Err(e) => {
                        let last = before(&secret).filter(|k| !k.line.unknown);
                        KeyLine {
                            population: last
                                .as_ref()
                                .and_then(|k| k.line.population.clone())
                                .or(stored_population),
                            status: last.map_or(KeyStatus::NotProvisioned, |k| k.line.status),
                            pasted,
                            problem: Some(format!(
                                "The server did not say whether this key is valid ({e}); finsync asks again within a minute."
                            )),
                            unknown: true,
                        }
                    }
                };
                fresh.push(KeyState {
                    line,
                    secret,
                    server: origin.clone(),
                });
            }
            self.keys.update(|current| {
                // Keep what changed while the statuses were asked for: a key provisioned (or
                // being provisioned) meanwhile, a population whose provisioning failed.
                let covered: HashSet<i64> = fresh.iter().filter_map(population_id).collect();
                let kept = current.drain(..).filter(|k| {
                    !k.line.pasted
                        && k.server == origin
                        && population_id(k).is_some_and(|p| !covered.contains(&p))
                });
                let mut all = fresh;
                all.extend(kept);
                *current = one_per_population(all);
            });
            self.connection.set(Connection::Reachable {
                server_version: version,
            });
        });
    }

    /// The session, if there is one for the server URL now that has not expired (an expired
    /// one is forgotten; one of another server is kept, unused).
    fn live_session(self) -> Option<StoredSession> {
        let s = self.session.get_untracked()?;
        if s.expired(ms_now()) {
            self.forget_session();
            None
        } else if s.server == self.origin_now() {
            Some(s)
        } else {
            None
        }
    }

    fn forget_session(self) {
        self.session.set(None);
        if let Some(st) = self.store.get_untracked() {
            spawn_local(async move {
                if let Err(e) = st.delete_session().await {
                    web_sys::console::warn_1(&format!("finsync: {e}").into());
                }
            });
        }
    }

    /// Forgets the session only if it is still the one with `token` (a late 401 of an older
    /// session must not end a sign-in made since).
    fn forget_session_if(self, token: &str) {
        if self
            .session
            .with_untracked(|s| s.as_ref().is_some_and(|s| s.token == token))
        {
            self.forget_session();
        }
    }

    /// What the Sync page does when it opens (spec §3.1): with a live sign-in session, creates
    /// a key for each population the person may sync and this browser has no key for,
    /// showing "Provisioning..." and then the key's status. One tab at a time (a Web Lock);
    /// keys another tab created meanwhile are used, not created again.
    pub fn provision_missing(self) {
        if self.provisioning.get_value() {
            return;
        }
        let Some(session) = self.live_session() else {
            return;
        };
        let (Some(st), server) = (
            self.store.get_untracked(),
            self.settings.with_untracked(|s| s.server_url.clone()),
        ) else {
            return;
        };
        if server.is_empty() {
            return;
        }
        let origin = server_origin(&server);
        let covered: HashSet<i64> = self.keys.with_untracked(|k| {
            k.iter()
                .filter(|k| k.server == origin)
                .filter_map(population_id)
                .collect()
        });
        let missing: Vec<PopulationRef> = session
            .populations
            .iter()
            .filter(|p| !covered.contains(&p.id))
            .map(|p| PopulationRef {
                id: p.id,
                name: p.name.clone(),
                organisation: p.organisation.clone(),
            })
            .collect();
        if missing.is_empty() {
            return;
        }
        self.provisioning.set_value(true);
        self.keys.update(|k| {
            k.extend(missing.iter().map(|p| KeyState {
                line: KeyLine {
                    population: Some(p.clone()),
                    status: KeyStatus::Provisioning,
                    pasted: false,
                    problem: None,
                    unknown: false,
                },
                secret: String::new(),
                server: origin.clone(),
            }))
        });
        spawn_local(async move {
            // Another tab may be creating keys for the same populations: one at a time, and
            // what it stored is not created again.
            let lock = crate::sync::lock::acquire(PROVISION_LOCK).await;
            let stored: HashSet<i64> = match st.api_keys(&origin).await {
                Ok(keys) => keys.iter().map(|k| k.population_id).collect(),
                Err(e) => {
                    self.error.set(Some(e.to_string()));
                    HashSet::new()
                }
            };
            let mut made_elsewhere = false;
            let mut stop = None;
            let client = Client::new(&server, &session.token);
            let mut rest = missing.into_iter();
            for p in rest.by_ref() {
                if self.origin_now() != origin {
                    stop = Some((Stop::ServerChanged, Some(p)));
                    break;
                }
                if self
                    .session
                    .with_untracked(|s| s.as_ref().map(|s| &s.token) != Some(&session.token))
                {
                    stop = Some((Stop::SignInEnded, Some(p)));
                    break;
                }
                if stored.contains(&p.id) {
                    made_elsewhere = true;
                    self.keys.update(|k| {
                        k.retain(|k| {
                            population_id(k) != Some(p.id)
                                || k.line.status != KeyStatus::Provisioning
                        })
                    });
                    continue;
                }
                let state = match client.provision_key(p.id).await {
                    Ok(k) => {
                        let row = StoredKey {
                            server: origin.clone(),
                            population_id: k.population.id,
                            population_name: k.population.name.clone(),
                            organisation: k.population.organisation.clone(),
                            api_key: k.api_key.clone(),
                            key_id: k.key_id,
                            created_at: crate::discovery::model::now_iso(),
                        };
                        let problem = st.save_api_key(&row).await.err().map(|e| {
                            format!("The key was created but could not be kept in this browser ({e}); it is used until the page is closed.")
                        });
                        activity::log(
                            &st,
                            Category::Settings,
                            "API key provisioned",
                            &format!(
                                "population {} ({})",
                                k.population.name, k.population.organisation
                            ),
                            true,
                        )
                        .await;
                        KeyState {
                            line: KeyLine {
                                population: Some(k.population),
                                status: k.key_status,
                                pasted: false,
                                problem,
                                unknown: false,
                            },
                            secret: k.api_key,
                            server: origin.clone(),
                        }
                    }
                    Err(e) => {
                        let ended = matches!(&e, CallError::Api { status: 401, .. });
                        if ended {
                            self.forget_session_if(&session.token);
                            stop = Some((Stop::SignInEnded, None));
                        }
                        activity::log(
                            &st,
                            Category::Settings,
                            "API key not provisioned",
                            &format!("population {}: {e}", p.name),
                            false,
                        )
                        .await;
                        KeyState {
                            line: KeyLine {
                                population: Some(p.clone()),
                                status: KeyStatus::NotProvisioned,
                                pasted: false,
                                problem: Some(if ended {
                                    SIGN_IN_ENDED.into()
                                } else {
                                    format!("Could not create a key: {e}")
                                }),
                                unknown: false,
                            },
                            secret: String::new(),
                            server: origin.clone(),
                        }
                    }
                };
                if self.origin_now() != origin {
                    // Kept for that server (stored above), not shown for this one.
                    stop = Some((Stop::ServerChanged, None));
                    break;
                }
                self.keys.update(|k| {
                    k.retain(|k| population_id(k) != Some(p.id) || k.line.pasted);
                    k.push(state);
                    let all = std::mem::take(k);
                    *k = one_per_population(all);
                });
                if stop.is_some() {
                    break;
                }
            }
            if let Some((why, first)) = stop {
                // The populations not tried: none stays "Provisioning..." forever.
                let left: HashSet<i64> = first.into_iter().chain(rest).map(|p| p.id).collect();
                let now = self.origin_now();
                self.keys.update(|k| match why {
                    Stop::ServerChanged => k.retain(|k| k.server == now),
                    Stop::SignInEnded => {
                        for k in k.iter_mut().filter(|k| {
                            k.line.status == KeyStatus::Provisioning
                                && population_id(k).is_some_and(|p| left.contains(&p))
                        }) {
                            k.line.status = KeyStatus::NotProvisioned;
                            k.line.problem = Some(SIGN_IN_ENDED.into());
                        }
                    }
                });
            }
            drop(lock);
            self.provisioning.set_value(false);
            if made_elsewhere {
                self.check_server();
            }
        });
    }

    /// Settings' "Re-provision": forgets the provisioned key of `population_id` and creates a
    /// new one with the sign-in session. `Err` says what to do first.
    pub fn reprovision(self, population: i64) -> Result<(), String> {
        let Some(session) = self.live_session() else {
            return Err("Sign in first (Get an API key, below), then press Re-provision.".into());
        };
        if !session.populations.iter().any(|p| p.id == population) {
            return Err(
                "Your account may not sync this population: ask a population admin for a role, then sign in again."
                    .into(),
            );
        }
        if self.provisioning.get_value() {
            return Err("Keys are being created right now: try again in a moment.".into());
        }
        let Some(st) = self.store.get_untracked() else {
            return Err("The browser database is not open.".into());
        };
        let origin = self.origin_now();
        // Only a ready pasted key of that population still covers it.
        self.keys.update(|k| {
            k.retain(|k| {
                population_id(k) != Some(population)
                    || (k.line.pasted && k.line.status == KeyStatus::Ready)
            })
        });
        spawn_local(async move {
            if let Err(e) = st.delete_api_key(&origin, population).await {
                self.error.set(Some(e.to_string()));
            }
            self.provision_missing();
        });
        Ok(())
    }

    /// Signs in and keeps the session (IndexedDB, until it expires); keys are provisioned
    /// when the Sync page opens. Returns what to tell the person.
    pub async fn sign_in(self, email: String, password: String) -> Result<String, String> {
        let server = self.settings.with_untracked(|s| s.server_url.clone());
        if server.is_empty() {
            return Err("Enter the server URL first.".into());
        }
        let info = Client::new(&server, "")
            .sign_in(&email, &password)
            .await
            .map_err(|e| format!("Sign-in failed: {e}"))?;
        let token = info
            .token
            .ok_or("Sign-in failed: the server answered without a session token.")?;
        let expires = js_sys::Date::parse(&info.expires_at);
        let session = StoredSession {
            server: server_origin(&server),
            token,
            expires_ms: if expires.is_finite() {
                expires.max(0.0) as u64
            } else {
                // Unreadable expiry: assume the server's default hour, less a margin.
                (ms_now() + 50.0 * 60_000.0) as u64
            },
            expires_at: info.expires_at.clone(),
            user: format!("{} {}", info.user.first_name, info.user.last_name)
                .trim()
                .to_string(),
            populations: info.populations.clone(),
        };
        if let Some(st) = self.store.get_untracked() {
            if let Err(e) = st.save_session(&session).await {
                web_sys::console::warn_1(&format!("finsync: {e}").into());
            }
            activity::log(&st, Category::Settings, "Signed in", &session.user, true).await;
        }
        // Populations whose provisioning failed are tried again when the Sync page opens.
        self.keys
            .update(|k| k.retain(|k| k.line.pasted || !k.secret.is_empty()));
        let user = session.user.clone();
        let names: Vec<String> = info
            .populations
            .iter()
            .map(|p| format!("{} ({})", p.name, p.organisation))
            .collect();
        self.session.set(Some(session));
        Ok(if names.is_empty() {
            format!("Signed in as {user}, but your account has no population to sync: ask a population admin for a role.")
        } else {
            format!(
                "Signed in as {user} until {}. Open the Sync page: finsync creates a key there for each of your populations this browser has no key for ({}).",
                info.expires_at,
                names.join(", ")
            )
        })
    }

    /// Ends the sign-in session here and on the server; the keys stay.
    pub fn sign_out(self) {
        let Some(session) = self.session.get_untracked() else {
            return;
        };
        let server = self.settings.with_untracked(|s| s.server_url.clone());
        self.forget_session();
        spawn_local(async move {
            // An ended or expired session is fine: it is gone here either way. A session of
            // another server is only forgotten: its token is not sent to this one.
            if session.server == server_origin(&server) {
                let _ = Client::new(&server, &session.token).sign_out().await;
            }
            if let Some(st) = self.store.get_untracked() {
                activity::log(&st, Category::Settings, "Signed out", &session.user, true).await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn key(pop: Option<i64>, status: KeyStatus, pasted: bool, secret: &str) -> KeyState {
        KeyState {
            line: KeyLine {
                population: pop.map(|id| PopulationRef {
                    id,
                    name: format!("P{id}"),
                    organisation: "Org".into(),
                }),
                status,
                pasted,
                problem: None,
                unknown: false,
            },
            secret: secret.into(),
            server: "http://s".into(),
        }
    }

    #[wasm_bindgen_test]
    fn one_key_per_population_prefers_a_ready_one_and_the_pasted_one() {
        let keys = one_per_population(vec![
            key(Some(1), KeyStatus::Invalid, true, "fsk_pasted"),
            key(Some(1), KeyStatus::Ready, false, "fsk_prov1"),
            key(Some(2), KeyStatus::Ready, false, "fsk_prov2"),
            key(Some(2), KeyStatus::Ready, true, "fsk_pasted2"),
            key(None, KeyStatus::Invalid, true, "fsk_unknown"),
        ]);
        let got: Vec<(&str, Option<i64>)> = keys
            .iter()
            .map(|k| (k.secret.as_str(), population_id(k)))
            .collect();
        assert_eq!(
            got,
            [
                ("fsk_prov1", Some(1)),
                ("fsk_pasted2", Some(2)),
                ("fsk_unknown", None)
            ]
        );
        let shown = format!("{:?}", keys);
        assert!(!shown.contains("fsk_"), "{shown}");
    }
}
