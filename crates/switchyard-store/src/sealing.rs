//! At-rest sealing of Secret bodies: ChaCha20-Poly1305 under a 32-byte key kept in
//! `<data dir>/secret.key`.
//!
//! Sealed format: one version byte (`1`), a random 12-byte nonce, then the ciphertext with
//! its 16-byte tag. The version byte is also the associated data, so it cannot be altered
//! without failing authentication. The key file is created once (mode 0600, written to a
//! temporary file, fsynced, then hard-linked into place so two processes racing to create it
//! agree on one key) and never rewritten: losing it makes every stored Secret unreadable.
//! Key material is never logged and never appears in `Debug` output.

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit, Nonce};
use rand::{RngCore, TryRngCore};
use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::StoreError;

/// The key file's name inside the data directory.
pub const KEY_FILE: &str = "secret.key";
/// Key length in bytes.
pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const FORMAT_VERSION: u8 = 1;

/// Seals and opens Secret bodies. Cheap to share behind an `Arc`.
#[derive(Clone)]
pub struct SecretSealer {
    cipher: ChaCha20Poly1305,
    /// Where the key came from, for messages; never the key itself.
    origin: String,
}

impl fmt::Debug for SecretSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretSealer")
            .field("key", &"<redacted>")
            .field("origin", &self.origin)
            .finish()
    }
}

impl SecretSealer {
    /// Loads `<dir>/secret.key`, creating `dir` and a fresh random key (mode 0600) if the file
    /// is absent. Fails if the file exists but is not exactly 32 bytes.
    pub fn load_or_create(dir: &Path) -> io::Result<Self> {
        fs::create_dir_all(dir).map_err(|e| with_path(e, "cannot create directory", dir))?;
        let path = dir.join(KEY_FILE);
        match read_key(&path) {
            Ok(key) => return Ok(Self::with_origin(&key, &path)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut key = [0u8; KEY_LEN];
        rand::rngs::OsRng.try_fill_bytes(&mut key).map_err(|e| {
            io::Error::other(format!(
                "cannot draw a random key for {}: {e}",
                path.display()
            ))
        })?;
        match create_key_file(dir, &path, &key) {
            Ok(()) => Ok(Self::with_origin(&key, &path)),
            // Another process created it first: use theirs.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let key = read_key(&path)?;
                Ok(Self::with_origin(&key, &path))
            }
            Err(e) => Err(e),
        }
    }

    /// A sealer with a given key (tests, or keys kept elsewhere).
    pub fn from_key(key: [u8; KEY_LEN]) -> Self {
        SecretSealer {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
            origin: "an in-memory key".to_owned(),
        }
    }

    fn with_origin(key: &[u8; KEY_LEN], path: &Path) -> Self {
        SecretSealer {
            cipher: ChaCha20Poly1305::new(Key::from_slice(key)),
            origin: path.display().to_string(),
        }
    }

    /// Seals `plain`. Panics only if `plain` exceeds the cipher's limit (256 GiB); use
    /// [`SecretSealer::try_seal`] where that must be an error.
    pub fn seal(&self, plain: &[u8]) -> Vec<u8> {
        match self.try_seal(plain) {
            Ok(sealed) => sealed,
            Err(e) => panic!("{e}"),
        }
    }

    /// Seals `plain` with a fresh random nonce.
    pub fn try_seal(&self, plain: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let aad = [FORMAT_VERSION];
        let ciphertext = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: &aad,
                },
            )
            .map_err(|_| StoreError::Internal {
                reason: format!(
                    "cannot seal a Secret body of {} bytes: too large for the cipher",
                    plain.len()
                ),
            })?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(FORMAT_VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Opens what [`SecretSealer::seal`] produced; [`StoreError::Corrupt`] says what is wrong.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        let Some((&version, rest)) = sealed.split_first() else {
            return Err(corrupt("the sealed Secret body is empty".to_owned()));
        };
        if version != FORMAT_VERSION {
            return Err(corrupt(format!(
                "the sealed Secret body has format version {version}; this build reads version {FORMAT_VERSION}"
            )));
        }
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(corrupt(format!(
                "the sealed Secret body is {} bytes, shorter than the {} bytes of header and tag",
                sealed.len(),
                1 + NONCE_LEN + TAG_LEN
            )));
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let aad = [FORMAT_VERSION];
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| {
                corrupt(format!(
                    "a sealed Secret body failed authentication with the key from {}: it was sealed with another key or has been altered",
                    self.origin
                ))
            })
    }
}

fn corrupt(what: String) -> StoreError {
    StoreError::Corrupt { what }
}

fn with_path(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

/// Reads a key file; `NotFound` passes through untouched so the caller can create one.
fn read_key(path: &Path) -> io::Result<[u8; KEY_LEN]> {
    let mut file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(e),
        Err(e) => return Err(with_path(e, "cannot open the secret key", path)),
    };
    // Read one byte more than a key so an oversized file is detected without reading it all.
    let mut buf = Vec::with_capacity(KEY_LEN + 1);
    (&mut file)
        .take(KEY_LEN as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| with_path(e, "cannot read the secret key", path))?;
    let key: [u8; KEY_LEN] = buf.as_slice().try_into().map_err(|_| {
        let size = fs::metadata(path).map_or(buf.len() as u64, |m| m.len());
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the secret key {} is {size} bytes; it must be exactly {KEY_LEN}. Restore the original \
                 file from a backup (stored Secrets cannot be opened without it); remove it only if the \
                 store holds no Secrets, and a new key will be created",
                path.display()
            ),
        )
    })?;
    Ok(key)
}

/// Writes the key to a private temporary file, fsyncs it, and links it into place; the link
/// fails with `AlreadyExists` if another process got there first.
fn create_key_file(dir: &Path, path: &Path, key: &[u8; KEY_LEN]) -> io::Result<()> {
    let tmp: PathBuf = dir.join(format!(
        ".{KEY_FILE}.{}.{:08x}.tmp",
        std::process::id(),
        rand::rng().next_u32()
    ));
    let result = write_private(&tmp, key).and_then(|()| fs::hard_link(&tmp, path));
    let _ = fs::remove_file(&tmp);
    match result {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(e),
        Err(e) => return Err(with_path(e, "cannot create the secret key", path)),
    }
    // Make the new directory entry durable too.
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| with_path(e, "cannot sync directory", dir))
}

fn write_private(path: &Path, key: &[u8]) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(key)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open_round_trips() {
        let sealer = SecretSealer::from_key([7; KEY_LEN]);
        for plain in [
            &b""[..],
            b"x",
            b"{\"data\":{\"password\":\"aHVudGVyMg==\"}}",
        ] {
            let sealed = sealer.seal(plain);
            assert_eq!(sealed.len(), 1 + NONCE_LEN + plain.len() + TAG_LEN);
            assert_eq!(sealed[0], FORMAT_VERSION);
            assert_eq!(sealer.open(&sealed).unwrap(), plain);
        }
    }

    #[test]
    fn each_seal_uses_a_fresh_nonce() {
        let sealer = SecretSealer::from_key([7; KEY_LEN]);
        assert_ne!(sealer.seal(b"same"), sealer.seal(b"same"));
    }

    #[test]
    fn open_names_the_problem() {
        let sealer = SecretSealer::from_key([7; KEY_LEN]);
        let good = sealer.seal(b"secret");
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        let mut version = good.clone();
        version[0] = 9;
        let other = SecretSealer::from_key([8; KEY_LEN]);
        for (sealed, sealer, want) in [
            (vec![], &sealer, "the sealed Secret body is empty"),
            (
                version,
                &sealer,
                "the sealed Secret body has format version 9; this build reads version 1",
            ),
            (
                vec![1, 2, 3],
                &sealer,
                "the sealed Secret body is 3 bytes, shorter than the 29 bytes of header and tag",
            ),
            (
                flipped,
                &sealer,
                "a sealed Secret body failed authentication with the key from an in-memory key: it was sealed with another key or has been altered",
            ),
            (
                good,
                &other,
                "a sealed Secret body failed authentication with the key from an in-memory key: it was sealed with another key or has been altered",
            ),
        ] {
            assert_eq!(
                sealer.open(&sealed),
                Err(StoreError::Corrupt {
                    what: want.to_owned()
                })
            );
        }
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = SecretSealer::load_or_create(&data).unwrap();
        let path = data.join(KEY_FILE);
        assert_eq!(fs::read(&path).unwrap().len(), KEY_LEN);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let second = SecretSealer::load_or_create(&data).unwrap();
        assert_eq!(second.open(&first.seal(b"hello")).unwrap(), b"hello");
        // Only the key file is left behind, no temporary files.
        let names: Vec<String> = fs::read_dir(&data)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec![KEY_FILE.to_owned()]);
    }

    #[test]
    fn key_file_of_the_wrong_length_is_refused() {
        for len in [0usize, 31, 33, 4096] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(KEY_FILE);
            fs::write(&path, vec![1u8; len]).unwrap();
            let err = SecretSealer::load_or_create(dir.path()).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
            let msg = err.to_string();
            assert!(
                msg.starts_with(&format!(
                    "the secret key {} is {len} bytes; it must be exactly 32.",
                    path.display()
                )),
                "{msg}"
            );
            // The bad file is left alone.
            assert_eq!(fs::read(&path).unwrap().len(), len);
        }
    }

    #[test]
    fn debug_output_hides_the_key() {
        let sealer = SecretSealer::from_key([0xAB; KEY_LEN]);
        let shown = format!("{sealer:?}");
        assert_eq!(
            shown,
            "SecretSealer { key: \"<redacted>\", origin: \"an in-memory key\" }"
        );
    }
}
