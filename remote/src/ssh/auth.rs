//! Authentication once the host key is trusted: ssh-agent keys, identity files, then a
//! password, within the server's MaxAuthTries.

use super::error::ConnectError;
use super::settings::{Secret, SshAuth, SshTarget};
use ssh2::{ErrorCode, Session};

/// Most public-key attempts made before the password: sshd's MaxAuthTries (6 by default)
/// closes the connection after that many failures.
const MAX_KEY_ATTEMPTS: usize = 5;

pub(super) fn authenticate(
    session: &Session,
    target: &SshTarget,
    auth: &SshAuth,
) -> Result<(), ConnectError> {
    let user = &target.user;
    let mut tried: Vec<String> = Vec::new();
    let timed_out = |e: &ssh2::Error| matches!(e.code(), ErrorCode::Session(-9 | -30));
    let lost = |e: &ssh2::Error| matches!(e.code(), ErrorCode::Session(-13 | -43 | -7));
    let check = |e: ssh2::Error, what: &str, tried: &[String]| -> Result<(), ConnectError> {
        if timed_out(&e) {
            Err(ConnectError::Timeout(format!(
                "no answer during authentication ({what})"
            )))
        } else if lost(&e) {
            // sshd closes the connection after MaxAuthTries failures.
            Err(ConnectError::AuthFailed(format!(
                "{user}@{}: the server closed the connection during authentication ({what}) \
                 after {} attempt(s): {}",
                target.host,
                tried.len() + 1,
                e.message()
            )))
        } else {
            Ok(())
        }
    };
    let mut keys_tried = 0usize;
    if auth.use_agent && std::env::var_os("SSH_AUTH_SOCK").is_some() {
        // Every key the agent holds (ssh2's userauth_agent tries only the first).
        if let Ok(mut agent) = session.agent() {
            if agent.connect().is_ok() && agent.list_identities().is_ok() {
                for id in agent.identities().unwrap_or_default() {
                    if keys_tried >= MAX_KEY_ATTEMPTS {
                        break;
                    }
                    keys_tried += 1;
                    let what = format!("agent key {}", id.comment());
                    match agent.userauth(user, &id) {
                        Ok(()) if session.authenticated() => return Ok(()),
                        Ok(()) => {}
                        Err(e) => check(e, &what, &tried)?,
                    }
                    tried.push(what);
                }
                let _ = agent.disconnect();
            }
        }
    }
    for id in &auth.identities {
        if !id.is_file() || keys_tried >= MAX_KEY_ATTEMPTS {
            continue;
        }
        keys_tried += 1;
        let pass = auth.passphrase.as_ref().map(Secret::expose);
        let what = format!("key {}", id.display());
        match session.userauth_pubkey_file(user, None, id, pass) {
            Ok(()) if session.authenticated() => return Ok(()),
            Ok(()) => {}
            Err(e) => check(e, &what, &tried)?,
        }
        tried.push(what);
    }
    if let Some(pw) = &auth.password {
        match session.userauth_password(user, pw.expose()) {
            Ok(()) if session.authenticated() => return Ok(()),
            Ok(()) => {}
            Err(e) => check(e, "password", &tried)?,
        }
        tried.push("password".into());
    }
    let offered = session
        .auth_methods(user)
        .map(|s| s.to_string())
        .unwrap_or_else(|_| "?".into());
    Err(ConnectError::AuthFailed(format!(
        "{user}@{}: {} refused (server accepts: {offered})",
        target.host,
        if tried.is_empty() {
            "no credential available (no key file, no agent, no password)".to_string()
        } else {
            tried.join(", ")
        }
    )))
}
