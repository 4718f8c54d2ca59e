//! Key files, key ids, key generation and the [`KeyRing`] of verification keys.
//!
//! A key file is one line, `<kind>:<base64>` (standard base64 with padding):
//!
//! | kind              | bytes            | loads as                       |
//! |-------------------|------------------|--------------------------------|
//! | `hmac`            | ≥ 16 (32 made)   | [`SigningKey`] and [`VerifyKey`] |
//! | `ed25519-private` | 32-byte seed     | [`SigningKey`] only            |
//! | `ed25519-public`  | 32-byte key      | [`VerifyKey`] only             |
//!
//! [`VerifyKey::from_file_text`] *rejects* `ed25519-private`: a listener should only ever
//! hold the public half, so handing it the private file is a mistake worth stopping. A
//! program that really holds the private key derives the public one explicitly with
//! [`SigningKey::verify_key`].
//!
//! ```
//! use logwire_wire::{SigningKey, VerifyKey, generate_ed25519};
//!
//! let signer = generate_ed25519().unwrap();
//! let public_text = signer.verify_key().to_file_text();
//! assert!(public_text.starts_with("ed25519-public:"));
//! let public = VerifyKey::from_file_text(&public_text).unwrap();
//! assert_eq!(public.key_id(), signer.key_id());
//! // The private file is refused where a public key belongs.
//! assert!(VerifyKey::from_file_text(&signer.to_file_text()).is_err());
//! ```

use std::collections::HashMap;
use std::fmt;
use std::io::{Read, Write};
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::KeyInit;
use sha2::{Digest, Sha256};

use crate::hex;

/// Largest key file read; real ones are under 100 bytes.
pub const MAX_KEY_FILE_BYTES: usize = 4096;
/// Shortest HMAC key accepted.
pub const MIN_HMAC_KEY_LEN: usize = 16;
/// Length of the HMAC keys [`generate_hmac`] makes.
pub const GENERATED_HMAC_KEY_LEN: usize = 32;
/// Longest HMAC key accepted (a sanity bound, far above any real key).
pub const MAX_HMAC_KEY_LEN: usize = 1024;

/// Domain separation for HMAC key ids, so an id never reveals a hash of the bare key.
const HMAC_KEY_ID_CONTEXT: &[u8] = b"logwire/hmac-key-id\0";

/// A signature algorithm, as numbered on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Alg {
    /// Ed25519 (RFC 8032), 64-byte signatures. Wire value 1.
    Ed25519,
    /// HMAC-SHA256 (RFC 2104), 32-byte tags. Wire value 2.
    HmacSha256,
}

impl Alg {
    /// The wire byte.
    pub fn to_byte(self) -> u8 {
        match self {
            Alg::Ed25519 => 1,
            Alg::HmacSha256 => 2,
        }
    }

    /// Decodes a wire byte.
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(Alg::Ed25519),
            2 => Some(Alg::HmacSha256),
            _ => None,
        }
    }

    /// Length of this algorithm's signature or tag.
    pub fn signature_len(self) -> usize {
        match self {
            Alg::Ed25519 => 64,
            Alg::HmacSha256 => 32,
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Alg::Ed25519 => "Ed25519",
            Alg::HmacSha256 => "HMAC-SHA256",
        })
    }
}

/// The 8-byte key id carried in envelopes: the first 8 bytes of SHA-256 of the Ed25519
/// public key, or of `b"logwire/hmac-key-id\0" || hmac_key`. Displays as 16 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 8]);

impl KeyId {
    /// The key id of an Ed25519 public key.
    pub fn for_ed25519(public: &[u8; 32]) -> Self {
        Self::first8(&Sha256::digest(public))
    }

    /// The key id of an HMAC key.
    pub fn for_hmac(key: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update(HMAC_KEY_ID_CONTEXT);
        h.update(key);
        Self::first8(&h.finalize())
    }

    fn first8(digest: &[u8]) -> Self {
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        Self(id)
    }

    /// Parses 16 hex digits.
    pub fn from_hex(s: &str) -> Option<Self> {
        hex::parse_hex::<8>(s).map(Self)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        hex::write_hex(f, &self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// Why a key or key file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The file is not a single `<kind>:<base64>` line.
    #[error("key file is not of the form '<kind>:<base64>'")]
    Malformed,
    /// The kind before the colon is not one logwire knows.
    #[error("unknown key kind '{0}' (expected hmac, ed25519-private or ed25519-public)")]
    UnknownKind(String),
    /// The text after the colon is not standard padded base64.
    #[error("key file base64 is invalid: {0}")]
    BadBase64(String),
    /// The decoded key has the wrong length for its kind.
    #[error("{kind} key must be {expected} bytes, got {got}")]
    WrongLength {
        /// The key kind.
        kind: &'static str,
        /// What the kind requires.
        expected: &'static str,
        /// Decoded length.
        got: usize,
    },
    /// A private key was given where only public keys belong.
    #[error(
        "this is an ed25519-private key; a verifier needs the public key \
         (use the .pub file, or derive it explicitly from the private key)"
    )]
    PrivateKeyNotAllowed,
    /// A public key was given where a signing key is needed.
    #[error("this is an ed25519-public key; signing needs the ed25519-private key file")]
    PublicKeyCannotSign,
    /// The Ed25519 public key is not a valid (or is a weak, small-order) curve point.
    #[error("invalid Ed25519 public key")]
    InvalidPublicKey,
    /// The key file exceeds [`MAX_KEY_FILE_BYTES`].
    #[error("key file is larger than {MAX_KEY_FILE_BYTES} bytes")]
    FileTooLarge,
    /// The key file already exists and overwriting was not requested.
    #[error("key file {0} already exists")]
    AlreadyExists(String),
    /// Reading or writing the key file failed.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The operating system's random source failed.
    #[error("random number generator failed: {0}")]
    Random(String),
}

/// An HMAC-SHA256 key (≥ 16 bytes). Its bytes are wiped on drop, best effort, and never
/// printed by `Debug`.
///
/// It also keeps the MAC already keyed (the inner and outer pads hashed), cloned for each
/// message: keying hashes two blocks, a tenth of a 700-byte record's tag. That state is
/// wiped on drop too (hmac's `zeroize` feature).
#[derive(Clone)]
pub struct HmacKey {
    bytes: Box<[u8]>,
    keyed: hmac::Hmac<Sha256>,
}

impl PartialEq for HmacKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for HmacKey {}

impl HmacKey {
    /// Wraps raw key bytes, checking the length bounds.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.len() < MIN_HMAC_KEY_LEN || bytes.len() > MAX_HMAC_KEY_LEN {
            return Err(KeyError::WrongLength {
                kind: "hmac",
                expected: "16 to 1024",
                got: bytes.len(),
            });
        }
        // HMAC takes keys of any length; the error branch cannot happen.
        let keyed = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(bytes)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        Ok(Self {
            bytes: bytes.into(),
            keyed,
        })
    }

    /// The raw key bytes (secret).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// This key's id.
    pub fn key_id(&self) -> KeyId {
        KeyId::for_hmac(&self.bytes)
    }

    /// A MAC instance keyed with this key.
    pub(crate) fn mac(&self) -> hmac::Hmac<Sha256> {
        self.keyed.clone()
    }
}

impl Drop for HmacKey {
    fn drop(&mut self) {
        // Best effort for the raw bytes: black_box keeps the write observable. (The keyed
        // state wipes itself: hmac and sha2 with their `zeroize` features.)
        self.bytes.fill(0);
        std::hint::black_box(&self.bytes);
    }
}

impl fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HmacKey {{ key_id: {}, .. }}", self.key_id())
    }
}

/// A key that can sign: an Ed25519 private key or an HMAC key.
#[derive(Clone)]
pub enum SigningKey {
    /// Ed25519 private key (zeroized on drop by `ed25519-dalek`).
    Ed25519(Box<ed25519_dalek::SigningKey>),
    /// HMAC-SHA256 key.
    Hmac(HmacKey),
}

/// A key that can verify: an Ed25519 public key or an HMAC key.
#[derive(Clone, PartialEq, Eq)]
pub enum VerifyKey {
    /// Ed25519 public key.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// HMAC-SHA256 key (a shared secret).
    Hmac(HmacKey),
}

/// Decoded key-file contents before the caller's role is applied.
enum KeyMaterial {
    Hmac(HmacKey),
    Ed25519Private([u8; 32]),
    Ed25519Public([u8; 32]),
}

fn parse_key_text(text: &str) -> Result<KeyMaterial, KeyError> {
    let line = text.trim();
    if line.is_empty() || line.contains(['\n', '\r']) {
        return Err(KeyError::Malformed);
    }
    let (kind, b64) = line.split_once(':').ok_or(KeyError::Malformed)?;
    // Check the kind before decoding so an unknown kind is named as such.
    if !matches!(kind, "hmac" | "ed25519-private" | "ed25519-public") {
        let shown: String = kind.chars().take(32).collect();
        return Err(KeyError::UnknownKind(shown));
    }
    let bytes = BASE64
        .decode(b64.trim())
        .map_err(|e| KeyError::BadBase64(e.to_string()))?;
    let fixed32 = |kind: &'static str| -> Result<[u8; 32], KeyError> {
        bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::WrongLength {
                kind,
                expected: "32",
                got: bytes.len(),
            })
    };
    Ok(match kind {
        "hmac" => KeyMaterial::Hmac(HmacKey::from_bytes(&bytes)?),
        "ed25519-private" => KeyMaterial::Ed25519Private(fixed32("ed25519-private")?),
        _ => KeyMaterial::Ed25519Public(fixed32("ed25519-public")?),
    })
}

fn ed25519_public(bytes: &[u8; 32]) -> Result<ed25519_dalek::VerifyingKey, KeyError> {
    let key =
        ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::InvalidPublicKey)?;
    if key.is_weak() {
        return Err(KeyError::InvalidPublicKey);
    }
    Ok(key)
}

impl SigningKey {
    /// Parses key-file text of kind `ed25519-private` or `hmac`.
    pub fn from_file_text(text: &str) -> Result<Self, KeyError> {
        match parse_key_text(text)? {
            KeyMaterial::Hmac(k) => Ok(SigningKey::Hmac(k)),
            KeyMaterial::Ed25519Private(seed) => Ok(Self::ed25519_from_seed(&seed)),
            KeyMaterial::Ed25519Public(_) => Err(KeyError::PublicKeyCannotSign),
        }
    }

    /// Reads and parses a key file (at most [`MAX_KEY_FILE_BYTES`]).
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        Self::from_file_text(&read_key_file(path)?)
    }

    /// An Ed25519 signing key from its 32-byte seed.
    pub fn ed25519_from_seed(seed: &[u8; 32]) -> Self {
        SigningKey::Ed25519(Box::new(ed25519_dalek::SigningKey::from_bytes(seed)))
    }

    /// The key-file line (secret), without a trailing newline.
    pub fn to_file_text(&self) -> String {
        match self {
            SigningKey::Ed25519(k) => format!("ed25519-private:{}", BASE64.encode(k.to_bytes())),
            SigningKey::Hmac(k) => format!("hmac:{}", BASE64.encode(k.as_bytes())),
        }
    }

    /// The matching verification key (the explicit way to derive a public key).
    pub fn verify_key(&self) -> VerifyKey {
        match self {
            SigningKey::Ed25519(k) => VerifyKey::Ed25519(k.verifying_key()),
            SigningKey::Hmac(k) => VerifyKey::Hmac(k.clone()),
        }
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> Alg {
        match self {
            SigningKey::Ed25519(_) => Alg::Ed25519,
            SigningKey::Hmac(_) => Alg::HmacSha256,
        }
    }

    /// This key's id.
    pub fn key_id(&self) -> KeyId {
        self.verify_key().key_id()
    }

    /// Signs `context || message`: 64 bytes for Ed25519, 32 for HMAC.
    pub(crate) fn sign_parts(&self, context: &[u8], message: &[u8]) -> Vec<u8> {
        match self {
            SigningKey::Ed25519(k) => {
                use ed25519_dalek::Signer as _;
                let mut m = Vec::with_capacity(context.len() + message.len());
                m.extend_from_slice(context);
                m.extend_from_slice(message);
                k.sign(&m).to_bytes().to_vec()
            }
            SigningKey::Hmac(k) => hmac_tag(k, context, message).to_vec(),
        }
    }

    /// Writes the key file with mode 0600. Refuses to replace an existing file unless
    /// `overwrite` is set.
    pub fn write_file(&self, path: &Path, overwrite: bool) -> Result<(), KeyError> {
        write_key_file(path, &self.to_file_text(), 0o600, overwrite)
    }
}

pub(crate) fn hmac_tag(key: &HmacKey, context: &[u8], message: &[u8]) -> [u8; 32] {
    use hmac::Mac as _;
    let mut mac = key.mac();
    mac.update(context);
    mac.update(message);
    mac.finalize().into_bytes().into()
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SigningKey {{ alg: {}, key_id: {}, .. }}",
            self.alg(),
            self.key_id()
        )
    }
}

impl VerifyKey {
    /// Parses key-file text of kind `ed25519-public` or `hmac`; `ed25519-private` is
    /// refused with [`KeyError::PrivateKeyNotAllowed`].
    pub fn from_file_text(text: &str) -> Result<Self, KeyError> {
        match parse_key_text(text)? {
            KeyMaterial::Hmac(k) => Ok(VerifyKey::Hmac(k)),
            KeyMaterial::Ed25519Public(b) => Ok(VerifyKey::Ed25519(ed25519_public(&b)?)),
            KeyMaterial::Ed25519Private(_) => Err(KeyError::PrivateKeyNotAllowed),
        }
    }

    /// Reads and parses a key file (at most [`MAX_KEY_FILE_BYTES`]).
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        Self::from_file_text(&read_key_file(path)?)
    }

    /// An Ed25519 verification key from its 32 bytes (weak keys are refused).
    pub fn ed25519_from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        ed25519_public(bytes).map(VerifyKey::Ed25519)
    }

    /// The key-file line, without a trailing newline (secret for HMAC keys).
    pub fn to_file_text(&self) -> String {
        match self {
            VerifyKey::Ed25519(k) => format!("ed25519-public:{}", BASE64.encode(k.to_bytes())),
            VerifyKey::Hmac(k) => format!("hmac:{}", BASE64.encode(k.as_bytes())),
        }
    }

    /// The algorithm this key verifies.
    pub fn alg(&self) -> Alg {
        match self {
            VerifyKey::Ed25519(_) => Alg::Ed25519,
            VerifyKey::Hmac(_) => Alg::HmacSha256,
        }
    }

    /// This key's id.
    pub fn key_id(&self) -> KeyId {
        match self {
            VerifyKey::Ed25519(k) => KeyId::for_ed25519(k.as_bytes()),
            VerifyKey::Hmac(k) => k.key_id(),
        }
    }

    /// Checks `signature` over `context || message` in constant time (Ed25519 with
    /// `verify_strict`, HMAC with `Mac::verify_slice`).
    pub(crate) fn verify_parts(&self, context: &[u8], message: &[u8], signature: &[u8]) -> bool {
        match self {
            VerifyKey::Ed25519(k) => {
                let Ok(sig) = ed25519_dalek::Signature::from_slice(signature) else {
                    return false;
                };
                let mut m = Vec::with_capacity(context.len() + message.len());
                m.extend_from_slice(context);
                m.extend_from_slice(message);
                k.verify_strict(&m, &sig).is_ok()
            }
            VerifyKey::Hmac(k) => {
                use hmac::Mac as _;
                let mut mac = k.mac();
                mac.update(context);
                mac.update(message);
                mac.verify_slice(signature).is_ok()
            }
        }
    }

    /// Writes the key file: mode 0644 for an Ed25519 public key, 0600 for an HMAC key.
    /// Refuses to replace an existing file unless `overwrite` is set.
    pub fn write_file(&self, path: &Path, overwrite: bool) -> Result<(), KeyError> {
        let mode = match self {
            VerifyKey::Ed25519(_) => 0o644,
            VerifyKey::Hmac(_) => 0o600,
        };
        write_key_file(path, &self.to_file_text(), mode, overwrite)
    }
}

impl fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "VerifyKey {{ alg: {}, key_id: {}, .. }}",
            self.alg(),
            self.key_id()
        )
    }
}

fn random_bytes<const N: usize>() -> Result<[u8; N], KeyError> {
    use rand::TryRngCore as _;
    let mut buf = [0u8; N];
    rand::rngs::OsRng
        .try_fill_bytes(&mut buf)
        .map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(buf)
}

/// A new 32-byte HMAC key from the operating system's random source.
pub fn generate_hmac() -> Result<SigningKey, KeyError> {
    let mut bytes = random_bytes::<GENERATED_HMAC_KEY_LEN>()?;
    let key = HmacKey::from_bytes(&bytes);
    bytes.fill(0);
    key.map(SigningKey::Hmac)
}

/// A new Ed25519 private key from the operating system's random source.
pub fn generate_ed25519() -> Result<SigningKey, KeyError> {
    let mut seed = random_bytes::<32>()?;
    let key = SigningKey::ed25519_from_seed(&seed);
    seed.fill(0);
    Ok(key)
}

/// Reads a key file, refusing files over [`MAX_KEY_FILE_BYTES`] without reading them whole.
pub fn read_key_file(path: &Path) -> Result<String, KeyError> {
    let io = |source| KeyError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut buf = Vec::with_capacity(128);
    file.take(MAX_KEY_FILE_BYTES as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(io)?;
    if buf.len() > MAX_KEY_FILE_BYTES {
        return Err(KeyError::FileTooLarge);
    }
    String::from_utf8(buf).map_err(|_| KeyError::Malformed)
}

/// Writes `line` plus a newline to `path` with `mode` (on Unix). Without `overwrite`
/// an existing file is an error; with it, the file's mode is reset to `mode` *before*
/// the secret is written.
pub fn write_key_file(path: &Path, line: &str, mode: u32, overwrite: bool) -> Result<(), KeyError> {
    let io = |source| KeyError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true);
    if overwrite {
        opts.create(true).truncate(true);
    } else {
        opts.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(mode);
    }
    let mut file = opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            KeyError::AlreadyExists(path.display().to_string())
        } else {
            io(e)
        }
    })?;
    #[cfg(unix)]
    {
        // `mode` only applies on creation (and is masked by the umask): set it explicitly.
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(io)?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    file.write_all(line.as_bytes()).map_err(io)?;
    file.write_all(b"\n").map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(())
}

/// Verification keys by key id; several at once so keys can be rotated with overlap.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: HashMap<KeyId, VerifyKey>,
}

impl KeyRing {
    /// An empty ring.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key under its key id, returning any key it replaces.
    pub fn insert(&mut self, key: VerifyKey) -> Option<VerifyKey> {
        self.keys.insert(key.key_id(), key)
    }

    /// Removes a key (revocation), returning it.
    pub fn remove(&mut self, key_id: &KeyId) -> Option<VerifyKey> {
        self.keys.remove(key_id)
    }

    /// The key with this id.
    pub fn get(&self, key_id: &KeyId) -> Option<&VerifyKey> {
        self.keys.get(key_id)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True if the ring holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// All keys, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&KeyId, &VerifyKey)> {
        self.keys.iter()
    }
}

impl FromIterator<VerifyKey> for KeyRing {
    fn from_iter<I: IntoIterator<Item = VerifyKey>>(iter: I) -> Self {
        let mut ring = KeyRing::new();
        for k in iter {
            ring.insert(k);
        }
        ring
    }
}
