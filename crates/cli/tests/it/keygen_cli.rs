//! `logwire keygen`: key files, modes, key ids, refusing to overwrite.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn logwire(args: &[&str], dir: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_logwire"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn ed25519_pair() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = logwire(&["keygen", "--ed25519", "ops"], dir.path());
    assert_eq!(code, 0, "{err}");
    let key = logwire_wire::SigningKey::load(&dir.path().join("ops.key")).unwrap();
    let public = logwire_wire::VerifyKey::load(&dir.path().join("ops.pub")).unwrap();
    assert_eq!(key.key_id(), public.key_id());
    assert!(out.contains(&format!("key id {}", key.key_id())), "{out}");
    assert_eq!(mode(&dir.path().join("ops.key")), 0o600);
    // A verifier refuses the private file.
    assert!(logwire_wire::VerifyKey::load(&dir.path().join("ops.key")).is_err());

    let before = std::fs::read(dir.path().join("ops.key")).unwrap();
    let (code, _, err) = logwire(&["keygen", "--ed25519", "ops"], dir.path());
    assert_eq!(code, 2);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read(dir.path().join("ops.key")).unwrap(), before);
    let (code, _, err) = logwire(&["keygen", "--ed25519", "ops", "--force"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert_ne!(std::fs::read(dir.path().join("ops.key")).unwrap(), before);
}

#[test]
fn hmac_key() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = logwire(&["keygen", "--hmac", "push.hmac"], dir.path());
    assert_eq!(code, 0, "{err}");
    let p = dir.path().join("push.hmac");
    assert_eq!(mode(&p), 0o600);
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.starts_with("hmac:"));
    let key = logwire_wire::VerifyKey::load(&p).unwrap();
    assert!(out.contains(&key.key_id().to_string()));
    let logwire_wire::VerifyKey::Hmac(k) = key else {
        panic!("not hmac")
    };
    assert_eq!(k.as_bytes().len(), 32);
    assert_eq!(logwire(&["keygen", "--hmac", "push.hmac"], dir.path()).0, 2);
}

#[test]
fn needs_exactly_one_kind_and_help_teaches() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(logwire(&["keygen"], dir.path()).0, 2);
    assert_eq!(
        logwire(&["keygen", "--hmac", "a", "--ed25519", "b"], dir.path()).0,
        2
    );
    let (code, out, _) = logwire(&["keygen", "--help"], dir.path());
    assert_eq!(code, 0);
    assert!(
        out.contains("Examples:") && out.contains("logwire keygen --ed25519 ops"),
        "{out}"
    );
}
