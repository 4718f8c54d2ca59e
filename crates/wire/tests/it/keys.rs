//! Key files: parsing, roles, ids, generation and file modes.

use std::os::unix::fs::PermissionsExt;

use logwire_wire::{Alg, KeyError, MAX_KEY_FILE_BYTES, SigningKey, VerifyKey, read_key_file};

const HMAC_TEXT: &str = "hmac:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn generated_keys_round_trip_through_files() {
    let dir = tempfile::tempdir().unwrap();
    for signer in [
        logwire_wire::generate_ed25519().unwrap(),
        logwire_wire::generate_hmac().unwrap(),
    ] {
        let name = format!("{}.key", signer.alg());
        let private = dir.path().join(&name);
        signer.write_file(&private, false).unwrap();
        assert_eq!(mode(&private), 0o600, "{name}");
        let back = SigningKey::load(&private).unwrap();
        assert_eq!(back.key_id(), signer.key_id());
        assert_eq!(back.to_file_text(), signer.to_file_text());

        let public = dir.path().join(format!("{name}.pub"));
        signer.verify_key().write_file(&public, false).unwrap();
        let expected_mode = if signer.alg() == Alg::Ed25519 {
            0o644
        } else {
            0o600
        };
        assert_eq!(mode(&public), expected_mode, "{name}");
        let verify = VerifyKey::load(&public).unwrap();
        assert_eq!(verify, signer.verify_key());
        assert!(std::fs::read_to_string(&public).unwrap().ends_with('\n'));
    }
    let h = logwire_wire::generate_hmac().unwrap();
    let SigningKey::Hmac(k) = &h else { panic!() };
    assert_eq!(k.as_bytes().len(), 32);
    assert_ne!(logwire_wire::generate_hmac().unwrap().key_id(), h.key_id());
}

#[test]
fn existing_files_are_not_overwritten_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k");
    std::fs::write(&path, "old").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let k = logwire_wire::generate_hmac().unwrap();
    assert!(matches!(
        k.write_file(&path, false),
        Err(KeyError::AlreadyExists(_))
    ));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
    k.write_file(&path, true).unwrap();
    // Overwriting tightens the mode too.
    assert_eq!(mode(&path), 0o600);
    assert_eq!(SigningKey::load(&path).unwrap().key_id(), k.key_id());
}

#[test]
fn roles_are_enforced() {
    let ed = SigningKey::ed25519_from_seed(&[5; 32]);
    let err = VerifyKey::from_file_text(&ed.to_file_text()).unwrap_err();
    assert!(matches!(err, KeyError::PrivateKeyNotAllowed));
    assert!(err.to_string().contains(".pub"), "{err}");
    let public = ed.verify_key().to_file_text();
    assert!(matches!(
        SigningKey::from_file_text(&public),
        Err(KeyError::PublicKeyCannotSign)
    ));
    // HMAC keys serve both roles, with the same id.
    let s = SigningKey::from_file_text(HMAC_TEXT).unwrap();
    let v = VerifyKey::from_file_text(HMAC_TEXT).unwrap();
    assert_eq!(s.key_id(), v.key_id());
    assert_eq!(s.key_id().to_string(), "a08fc3e14d5bc5b3");
}

#[test]
fn whitespace_is_tolerated() {
    for text in [
        format!("{HMAC_TEXT}\n"),
        format!("{HMAC_TEXT}\r\n"),
        format!("  {HMAC_TEXT}  \n\n"),
    ] {
        assert!(VerifyKey::from_file_text(&text).is_ok(), "{text:?}");
    }
}

#[test]
fn garbage_is_rejected_with_clear_errors() {
    type Check = fn(&KeyError) -> bool;
    let cases: &[(&str, Check)] = &[
        ("", |e| matches!(e, KeyError::Malformed)),
        ("   \n", |e| matches!(e, KeyError::Malformed)),
        ("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", |e| {
            matches!(e, KeyError::Malformed)
        }),
        (
            "rsa:AAAA",
            |e| matches!(e, KeyError::UnknownKind(k) if k == "rsa"),
        ),
        ("HMAC:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", |e| {
            matches!(e, KeyError::UnknownKind(_))
        }),
        ("hmac:!!!notbase64!!!", |e| {
            matches!(e, KeyError::BadBase64(_))
        }),
        // Unpadded base64 is not the standard form.
        ("hmac:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", |e| {
            matches!(e, KeyError::BadBase64(_))
        }),
        ("hmac:AAECAwQFBgcICQoLDA0O", |e| {
            // 15 bytes: one short.
            matches!(e, KeyError::WrongLength { got: 15, .. })
        }),
        (
            "ed25519-public:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==",
            |e| matches!(e, KeyError::WrongLength { got: 31, .. }),
        ),
        (
            "ed25519-private:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g",
            |e| matches!(e, KeyError::WrongLength { got: 33, .. }),
        ),
        // Two keys in one file.
        (
            "hmac:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\nhmac:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            |e| matches!(e, KeyError::Malformed),
        ),
        // The identity point: a weak, small-order public key.
        (
            "ed25519-public:AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            |e| matches!(e, KeyError::InvalidPublicKey),
        ),
    ];
    for (text, ok) in cases {
        let err = VerifyKey::from_file_text(text)
            .err()
            .or_else(|| SigningKey::from_file_text(text).err())
            .unwrap_or_else(|| panic!("{text:?} accepted"));
        assert!(ok(&err), "{text:?}: {err:?}");
        assert!(!err.to_string().is_empty());
    }
    // 16 bytes is the minimum accepted; 15 is rejected in both roles.
    assert!(SigningKey::from_file_text("hmac:AAECAwQFBgcICQoLDA0ODw==").is_ok());
    assert!(SigningKey::from_file_text("hmac:AAECAwQFBgcICQoLDA0O").is_err());
}

#[test]
fn oversized_and_non_utf8_files_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big");
    std::fs::write(&big, vec![b' '; MAX_KEY_FILE_BYTES + 1]).unwrap();
    assert!(matches!(read_key_file(&big), Err(KeyError::FileTooLarge)));
    let bin = dir.path().join("bin");
    std::fs::write(&bin, [0xFF, 0xFE, 0x00]).unwrap();
    assert!(VerifyKey::load(&bin).is_err());
    assert!(matches!(
        VerifyKey::load(&dir.path().join("missing")),
        Err(KeyError::Io { .. })
    ));
}

#[test]
fn debug_never_prints_secrets() {
    let h = SigningKey::from_file_text(HMAC_TEXT).unwrap();
    let ed = SigningKey::ed25519_from_seed(&[0x5A; 32]);
    let secret_b64 = ed.to_file_text();
    let secret_b64 = secret_b64.split(':').nth(1).unwrap();
    for shown in [
        format!("{h:?}"),
        format!("{:?}", h.verify_key()),
        format!("{ed:?}"),
        format!("{:#?}", ed),
    ] {
        assert!(!shown.contains("AAECAwQF"), "{shown}");
        assert!(!shown.contains(secret_b64), "{shown}");
        assert!(!shown.contains("90, 90, 90"), "{shown}");
        assert!(!shown.contains("5a5a5a"), "{shown}");
        assert!(shown.contains("key_id"), "{shown}");
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = VerifyKey::from_file_text(&text);
            let _ = SigningKey::from_file_text(&text);
        }

        #[test]
        fn arbitrary_kinded_text_never_panics(kind in proptest::sample::select(vec!["hmac", "ed25519-public", "ed25519-private"]), body in "[A-Za-z0-9+/=]{0,90}") {
            let text = format!("{kind}:{body}");
            let _ = VerifyKey::from_file_text(&text);
            let _ = SigningKey::from_file_text(&text);
        }
    }
}
