//! Secrets that rotate while the nodes run: the admin token and the cluster secret.
//!
//! A secret read from a file (`admin-token-file`, `cluster-secret-file`, which is how Kubernetes
//! mounts a Secret) is read again when it changes. A rotation cannot reach every node at the
//! same instant (kubelet refreshes mounted Secrets pod by pod, an operator edits one file after
//! another), so a node that has taken the new value keeps accepting the value it replaced for
//! a grace period (`secret-rotation-grace`): peers and admin callers still on the old value go
//! on working meanwhile, and after it the old value is refused. A node restarted meanwhile
//! knows only the new value; the peers it cannot reach yet reach it once they reload theirs.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a file-backed secret is looked at again. Callers ask on every handshake or admin
/// request; reading a small file at most once a second costs nothing and still takes a rotation
/// within a second of the file changing.
const RECHECK: Duration = Duration::from_secs(1);

/// A secret and, while a rotation settles, the value it replaced.
pub struct RotatingSecret {
    file: Option<PathBuf>,
    grace: Duration,
    state: Mutex<State>,
}

struct State {
    current: Option<String>,
    /// The replaced value and until when it is still accepted.
    previous: Option<(String, Instant)>,
    checked: Instant,
}

impl RotatingSecret {
    /// The secret as configured: read again from `file` when there is one.
    pub fn configured(
        value: Option<String>,
        file: Option<&std::path::Path>,
        grace: Duration,
    ) -> RotatingSecret {
        match file {
            Some(file) => RotatingSecret::from_file(value, file.to_path_buf(), grace),
            None => RotatingSecret::fixed(value),
        }
    }

    /// A secret that never changes (given in the config file, the environment, or absent).
    pub fn fixed(value: Option<String>) -> RotatingSecret {
        RotatingSecret::new(value, None, Duration::ZERO)
    }

    /// A secret read from `file`, whose first value (already read and checked) is `initial`.
    pub fn from_file(initial: Option<String>, file: PathBuf, grace: Duration) -> RotatingSecret {
        RotatingSecret::new(initial, Some(file), grace)
    }

    fn new(current: Option<String>, file: Option<PathBuf>, grace: Duration) -> RotatingSecret {
        RotatingSecret {
            file,
            grace,
            state: Mutex::new(State {
                current,
                previous: None,
                checked: Instant::now(),
            }),
        }
    }

    /// The value to present to others.
    pub fn current(&self) -> Option<String> {
        self.current_at(Instant::now())
    }

    /// The values to accept from others: the current one first, then the one it replaced while
    /// its grace period lasts. Empty when no secret is configured.
    pub fn accepted(&self) -> Vec<String> {
        self.accepted_at(Instant::now())
    }

    /// A secret in the middle of a rotation: `current`, and `previous` still accepted.
    #[cfg(test)]
    pub(crate) fn rotated(current: &str, previous: &str) -> RotatingSecret {
        let secret = RotatingSecret::new(Some(current.into()), None, Duration::ZERO);
        secret.state.lock().unwrap().previous =
            Some((previous.into(), Instant::now() + Duration::from_secs(3600)));
        secret
    }

    fn current_at(&self, now: Instant) -> Option<String> {
        self.refreshed(now).current.clone()
    }

    fn accepted_at(&self, now: Instant) -> Vec<String> {
        let state = self.refreshed(now);
        let previous = state
            .previous
            .as_ref()
            .filter(|(_, until)| now < *until)
            .map(|(value, _)| value.clone());
        state.current.iter().cloned().chain(previous).collect()
    }

    fn refreshed(&self, now: Instant) -> std::sync::MutexGuard<'_, State> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(file) = &self.file else {
            return state;
        };
        if now.saturating_duration_since(state.checked) < RECHECK {
            return state;
        }
        state.checked = now;
        match read_secret(file) {
            Ok(value) if state.current.as_deref() == Some(value.as_str()) => {}
            Ok(value) => {
                tracing::info!(file = %file.display(), grace_secs = self.grace.as_secs(),
                    "secret file changed: taking the new value, accepting the old one during the grace period");
                let old = state.current.replace(value);
                state.previous = old.map(|old| (old, now + self.grace));
            }
            // A half-written or emptied file must not lock the cluster out: keep what works.
            Err(why) => {
                tracing::warn!(file = %file.display(), %why, "secret file unusable; keeping the current value")
            }
        }
        state
    }
}

/// A secret file's value, as `config` checks it at start-up.
fn read_secret(file: &std::path::Path) -> Result<String, String> {
    let text = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
    match crate::config::check_secret(text.trim())? {
        Some(value) => Ok(value),
        None => Err("the file is empty".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "0123456789abcdef-old";
    const NEW: &str = "0123456789abcdef-new";

    fn file_secret(grace: Duration) -> (tempfile::TempDir, PathBuf, RotatingSecret) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cluster-secret");
        std::fs::write(&path, format!("{OLD}\n")).unwrap();
        let secret = RotatingSecret::from_file(Some(OLD.into()), path.clone(), grace);
        (dir, path, secret)
    }

    #[test]
    fn a_changed_file_is_taken_and_the_old_value_accepted_for_the_grace_period() {
        let (_dir, path, secret) = file_secret(Duration::from_secs(60));
        let t0 = Instant::now();
        assert_eq!(secret.accepted_at(t0), vec![OLD.to_string()]);
        std::fs::write(&path, NEW).unwrap();
        // Not looked at again within a second.
        assert_eq!(secret.current_at(t0), Some(OLD.into()));
        let t1 = t0 + RECHECK;
        assert_eq!(secret.current_at(t1), Some(NEW.into()));
        assert_eq!(
            secret.accepted_at(t1),
            vec![NEW.to_string(), OLD.to_string()]
        );
        let after = t1 + Duration::from_secs(60);
        assert_eq!(secret.accepted_at(after), vec![NEW.to_string()]);
    }

    #[test]
    fn an_unusable_file_keeps_the_current_value() {
        let (_dir, path, secret) = file_secret(Duration::from_secs(60));
        let t1 = Instant::now() + RECHECK;
        for bad in ["", "short"] {
            std::fs::write(&path, bad).unwrap();
            assert_eq!(secret.accepted_at(t1), vec![OLD.to_string()], "{bad:?}");
        }
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            secret.accepted_at(t1 + RECHECK),
            vec![OLD.to_string()],
            "file gone"
        );
    }

    #[test]
    fn a_second_rotation_drops_the_first_value() {
        let (_dir, path, secret) = file_secret(Duration::from_secs(60));
        let t1 = Instant::now() + RECHECK;
        std::fs::write(&path, NEW).unwrap();
        secret.current_at(t1);
        let newest = "0123456789abcdef-newest";
        std::fs::write(&path, newest).unwrap();
        let t2 = t1 + RECHECK;
        assert_eq!(
            secret.accepted_at(t2),
            vec![newest.to_string(), NEW.to_string()]
        );
    }

    #[test]
    fn a_fixed_secret_never_changes() {
        let secret = RotatingSecret::fixed(Some(OLD.into()));
        assert_eq!(secret.accepted(), vec![OLD.to_string()]);
        assert!(RotatingSecret::fixed(None).accepted().is_empty());
        assert_eq!(RotatingSecret::fixed(None).current(), None);
    }
}
