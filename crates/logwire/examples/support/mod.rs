//! What the two service examples share: a config file and a key pair in a scratch
//! directory, a signed push as `logwire send-config` makes it, and waiting for a reload.

use logwire_wire::{ConfigReply, EnvelopeClock, SigningKey, SystemEnvelopeClock};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

pub(crate) struct Scratch {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) config: PathBuf,
    pub(crate) public_key: PathBuf,
    pub(crate) signer: SigningKey,
}

/// The example config (with its log file in the scratch directory) and an Ed25519 pair
/// (what `logwire keygen --ed25519 ops` writes).
pub(crate) fn scratch() -> Result<Scratch, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("logging.yaml");
    let log_dir = dir.path().display().to_string();
    std::fs::write(
        &config,
        include_str!("../logging.yaml").replace("{log_dir}", &log_dir),
    )?;
    let signer = logwire_wire::generate_ed25519()?;
    let public_key = dir.path().join("ops.pub");
    signer.verify_key().write_file(&public_key, false)?;
    Ok(Scratch {
        dir,
        config,
        public_key,
        signer,
    })
}

/// Pushes a signed config, as `logwire send-config --key ops.key` does, and returns the
/// listener's reply.
pub(crate) fn push(
    addr: SocketAddr,
    signer: &SigningKey,
    seq: u64,
    config: &str,
) -> Result<ConfigReply, Box<dyn std::error::Error>> {
    let now = SystemEnvelopeClock.now_ms();
    let frame =
        logwire_wire::sign_config_frame(signer, seq, now, now + 300_000, None, config.as_bytes())?;
    let mut s = std::net::TcpStream::connect(addr)?;
    s.write_all(&frame)?;
    let mut reply = Vec::new();
    s.read_to_end(&mut reply)?;
    Ok(ConfigReply::parse(reply.get(4..).unwrap_or_default())?)
}

/// Rewrites the config file the way a deploy does (a new file renamed over the old one),
/// then waits for the watcher's reload.
pub(crate) fn edit_and_wait(
    path: &Path,
    edit: impl FnOnce(String) -> String,
    reloaded: &mpsc::Receiver<String>,
) -> Result<String, Box<dyn std::error::Error>> {
    let text = edit(std::fs::read_to_string(path)?);
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)?;
    Ok(reloaded.recv_timeout(Duration::from_secs(30))?)
}
