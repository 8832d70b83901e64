//! The node's libp2p identity, persisted so that the peer id survives restarts.
//!
//! File format: the 32-byte ed25519 secret key, raw. Created with mode 0600 on Unix.
use std::path::Path;

use libp2p::identity::{ed25519, Keypair};

use crate::{Error, Result};

/// Loads the ed25519 key at `path`, or creates one there if the file does not exist.
pub fn load_or_create_keypair(path: &Path) -> Result<Keypair> {
    let io_err = |source| Error::Io { path: path.to_path_buf(), source };
    match std::fs::read(path) {
        Ok(mut bytes) => {
            if bytes.len() != 32 {
                return Err(Error::Config(format!(
                    "node key {} has {} bytes, expected a 32-byte ed25519 secret; delete it to get a new peer id",
                    path.display(),
                    bytes.len()
                )));
            }
            let secret = ed25519::SecretKey::try_from_bytes(&mut bytes).map_err(|e| {
                Error::Config(format!("node key {} is not an ed25519 secret: {e}", path.display()))
            })?;
            Ok(Keypair::from(ed25519::Keypair::from(secret)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // OS entropy (the node is the one place allowed to draw it).
            let mut secret: [u8; 32] = rand::random();
            let keypair = ed25519::Keypair::from(
                ed25519::SecretKey::try_from_bytes(&mut secret)
                    .map_err(|e| Error::Config(format!("cannot make a node key: {e}")))?,
            );
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io_err)?;
            }
            write_secret(path, keypair.secret().as_ref()).map_err(io_err)?;
            Ok(Keypair::from(keypair))
        }
        Err(e) => Err(io_err(e)),
    }
}

#[cfg(unix)]
fn write_secret(path: &Path, secret: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(secret)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_secret(path: &Path, secret: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_created_once_and_reloaded_with_the_same_peer_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("network").join("node_key");
        let first = load_or_create_keypair(&path).unwrap();
        let again = load_or_create_keypair(&path).unwrap();
        assert_eq!(first.public().to_peer_id(), again.public().to_peer_id());
        assert_eq!(std::fs::read(&path).unwrap().len(), 32);
        std::fs::write(&path, [1u8; 5]).unwrap();
        let err = load_or_create_keypair(&path).unwrap_err();
        assert!(err.to_string().contains("has 5 bytes"), "{err}");
    }
}
