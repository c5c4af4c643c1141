//! Photos of matters: uploads are checked by their content (never by their
//! file name) and kept content-addressed under the data directory, so the
//! same photo uploaded twice is stored once and a name can only ever point
//! at the bytes it was made from.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The longest side accepted, in pixels: larger images are either not phone
/// photos or decompression bombs.
pub const MAX_SIDE: u32 = 20_000;

/// How close to the end a JPEG's end-of-image marker must be: some phones
/// append a few bytes after it.
const JPEG_EOI_WINDOW: usize = 32;

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1A, b'\n'];

/// The image formats accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PhotoKind {
    Jpeg,
    Png,
    Webp,
}

impl PhotoKind {
    /// Every kind, in the order [`PhotoStore::open`] looks for them.
    pub const ALL: [PhotoKind; 3] = [PhotoKind::Jpeg, PhotoKind::Png, PhotoKind::Webp];

    pub fn mime(self) -> &'static str {
        match self {
            PhotoKind::Jpeg => "image/jpeg",
            PhotoKind::Png => "image/png",
            PhotoKind::Webp => "image/webp",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            PhotoKind::Jpeg => "jpg",
            PhotoKind::Png => "png",
            PhotoKind::Webp => "webp",
        }
    }
}

/// What the content of an accepted upload says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhotoInfo {
    pub kind: PhotoKind,
    pub width: u32,
    pub height: u32,
    /// Length of the upload in bytes.
    pub bytes: usize,
}

/// A photo as kept by the [`PhotoStore`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredPhoto {
    /// SHA-256 of the bytes, 64 lowercase hex digits: the photo's name.
    pub sha256: String,
    pub kind: PhotoKind,
    pub width: u32,
    pub height: u32,
    pub bytes: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    #[error("The photo is {actual} bytes, more than the limit of {max} bytes.")]
    TooLarge { max: usize, actual: usize },
    #[error("The file is not a JPEG, PNG or WebP image.")]
    NotAnImage,
    #[error("The photo is damaged or truncated: {0}.")]
    Corrupt(&'static str),
    #[error(
        "The photo is {width} by {height} pixels; each side must be between 1 and {MAX_SIDE} pixels."
    )]
    BadDimensions { width: u32, height: u32 },
    #[error("The photo store could not read or write a file: {0}.")]
    Io(#[from] std::io::Error),
}

impl PhotoError {
    /// A stable machine-readable code, for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            PhotoError::TooLarge { .. } => "photo_too_large",
            PhotoError::NotAnImage => "photo_not_an_image",
            PhotoError::Corrupt(_) => "photo_corrupt",
            PhotoError::BadDimensions { .. } => "photo_bad_dimensions",
            PhotoError::Io(_) => "photo_io",
        }
    }
}

/// Checks that `bytes` are a whole JPEG, PNG or WebP image no longer than
/// `max_bytes` with sane dimensions, and tells what it is.
pub fn inspect(bytes: &[u8], max_bytes: usize) -> Result<PhotoInfo, PhotoError> {
    // Before any parsing, so an oversized upload costs nothing more.
    if bytes.len() > max_bytes {
        return Err(PhotoError::TooLarge {
            max: max_bytes,
            actual: bytes.len(),
        });
    }
    let kind = sniff(bytes).ok_or(PhotoError::NotAnImage)?;
    let (width, height) = match kind {
        PhotoKind::Jpeg => jpeg_dimensions(bytes)?,
        PhotoKind::Png => png_dimensions(bytes)?,
        PhotoKind::Webp => webp_dimensions(bytes)?,
    };
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(PhotoError::BadDimensions { width, height });
    }
    Ok(PhotoInfo {
        kind,
        width,
        height,
        bytes: bytes.len(),
    })
}

/// The format the leading bytes announce, if any (empty input has none).
fn sniff(bytes: &[u8]) -> Option<PhotoKind> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(PhotoKind::Jpeg)
    } else if bytes.starts_with(&PNG_SIGNATURE) {
        Some(PhotoKind::Png)
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(PhotoKind::Webp)
    } else {
        None
    }
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(
        bytes.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(
        bytes.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn le16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        bytes.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn le24(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(3)?)?;
    Some(u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16)
}

fn le32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        bytes.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// Walks the marker segments after SOI up to the frame header (SOF), which
/// holds the dimensions, then requires the end-of-image marker near the end.
fn jpeg_dimensions(bytes: &[u8]) -> Result<(u32, u32), PhotoError> {
    const TRUNCATED: PhotoError = PhotoError::Corrupt("the JPEG ends before its frame header");
    let mut pos = 2;
    let (width, height, frame_end) = loop {
        match bytes.get(pos) {
            Some(0xFF) => {}
            Some(_) => {
                return Err(PhotoError::Corrupt(
                    "a JPEG segment does not start with a marker",
                ))
            }
            None => return Err(TRUNCATED),
        }
        // Any number of 0xFF fill bytes may precede a marker.
        while bytes.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let marker = *bytes.get(pos).ok_or(TRUNCATED)?;
        pos += 1;
        match marker {
            // TEM and RST0-7 stand alone, without a length.
            0x01 | 0xD0..=0xD7 => continue,
            0xD9 => return Err(TRUNCATED),
            0xDA => {
                return Err(PhotoError::Corrupt(
                    "the JPEG scan starts before its frame header",
                ))
            }
            0x00 | 0xD8 => {
                return Err(PhotoError::Corrupt(
                    "the JPEG header has a misplaced marker",
                ))
            }
            _ => {}
        }
        let length = usize::from(be16(bytes, pos).ok_or(TRUNCATED)?);
        let end = pos + length;
        if length < 2 || end > bytes.len() {
            return Err(TRUNCATED);
        }
        // SOF0-15, except DHT (C4), JPG (C8) and DAC (CC) which share the range.
        if matches!(marker, 0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF) {
            // Length, precision, height, width, component count.
            if length < 8 {
                return Err(PhotoError::Corrupt("the JPEG frame header is too short"));
            }
            let height = be16(bytes, pos + 3).ok_or(TRUNCATED)?;
            let width = be16(bytes, pos + 5).ok_or(TRUNCATED)?;
            break (u32::from(width), u32::from(height), end);
        }
        pos = end;
    };
    let tail_start = bytes.len().saturating_sub(JPEG_EOI_WINDOW).max(frame_end);
    if !bytes[tail_start..].windows(2).any(|w| w == [0xFF, 0xD9]) {
        return Err(PhotoError::Corrupt("the JPEG has no end-of-image marker"));
    }
    Ok((width, height))
}

/// Reads IHDR (which must come first and carry a right CRC), then walks the
/// chunks to an IEND that ends the file, with image data before it.
fn png_dimensions(bytes: &[u8]) -> Result<(u32, u32), PhotoError> {
    const TRUNCATED: PhotoError = PhotoError::Corrupt("the PNG is truncated");
    let mut pos = PNG_SIGNATURE.len();
    let mut dimensions = None;
    let mut has_image_data = false;
    loop {
        let length = be32(bytes, pos).ok_or(TRUNCATED)?;
        let chunk_type = bytes.get(pos + 4..pos + 8).ok_or(TRUNCATED)?;
        // A chunk of length, type, data and CRC.
        let end = usize::try_from(length)
            .ok()
            .and_then(|length| pos.checked_add(12)?.checked_add(length))
            .ok_or(TRUNCATED)?;
        if end > bytes.len() {
            return Err(TRUNCATED);
        }
        if !chunk_type.iter().all(u8::is_ascii_alphabetic) {
            return Err(PhotoError::Corrupt("a PNG chunk has an invalid type"));
        }
        match (dimensions, chunk_type) {
            (None, b"IHDR") => {
                if length != 13 {
                    return Err(PhotoError::Corrupt("the PNG header has the wrong length"));
                }
                let stored_crc = be32(bytes, pos + 8 + 13).ok_or(TRUNCATED)?;
                if crc32(&bytes[pos + 4..pos + 8 + 13]) != stored_crc {
                    return Err(PhotoError::Corrupt("the PNG header fails its checksum"));
                }
                let width = be32(bytes, pos + 8).ok_or(TRUNCATED)?;
                let height = be32(bytes, pos + 12).ok_or(TRUNCATED)?;
                dimensions = Some((width, height));
            }
            (None, _) => {
                return Err(PhotoError::Corrupt(
                    "the PNG does not start with its header",
                ))
            }
            (Some(_), b"IHDR") => return Err(PhotoError::Corrupt("the PNG has a second header")),
            (Some(_), b"IDAT") => has_image_data = true,
            (Some(dimensions), b"IEND") => {
                if !has_image_data {
                    return Err(PhotoError::Corrupt("the PNG has no image data"));
                }
                if end != bytes.len() {
                    return Err(PhotoError::Corrupt("the PNG has data after its end chunk"));
                }
                return Ok(dimensions);
            }
            (Some(_), _) => {}
        }
        pos = end;
    }
}

/// Reads the RIFF container and the dimensions from its first chunk.
fn webp_dimensions(bytes: &[u8]) -> Result<(u32, u32), PhotoError> {
    const TRUNCATED: PhotoError = PhotoError::Corrupt("the WebP is truncated");
    let riff_size = le32(bytes, 4).ok_or(TRUNCATED)?;
    if u64::from(riff_size) + 8 != bytes.len() as u64 {
        return Err(PhotoError::Corrupt(
            "the WebP size does not match its length",
        ));
    }
    let chunk_type = bytes.get(12..16).ok_or(TRUNCATED)?;
    let chunk_size = usize::try_from(le32(bytes, 16).ok_or(TRUNCATED)?).map_err(|_| TRUNCATED)?;
    let data = bytes
        .get(20..20usize.checked_add(chunk_size).ok_or(TRUNCATED)?)
        .ok_or(TRUNCATED)?;
    match chunk_type {
        b"VP8 " => {
            // Frame tag (3 bytes, bit 0 clear on a key frame), start code, sizes.
            if data.len() < 10 {
                return Err(TRUNCATED);
            }
            if data[0] & 1 != 0 {
                return Err(PhotoError::Corrupt(
                    "the WebP does not start with a key frame",
                ));
            }
            if data[3..6] != [0x9D, 0x01, 0x2A] {
                return Err(PhotoError::Corrupt("the WebP key frame has no start code"));
            }
            // The top two bits of each are a scaling hint, not size.
            let width = le16(data, 6).ok_or(TRUNCATED)? & 0x3FFF;
            let height = le16(data, 8).ok_or(TRUNCATED)? & 0x3FFF;
            Ok((u32::from(width), u32::from(height)))
        }
        b"VP8L" => {
            if data.first() != Some(&0x2F) {
                return Err(PhotoError::Corrupt("the lossless WebP has no signature"));
            }
            // 14 bits width - 1, 14 bits height - 1, alpha hint, 3-bit version 0.
            let bits = le32(data, 1).ok_or(TRUNCATED)?;
            if bits >> 29 != 0 {
                return Err(PhotoError::Corrupt(
                    "the lossless WebP has an unknown version",
                ));
            }
            Ok(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
        }
        b"VP8X" => {
            // Flags, 3 reserved bytes, 24-bit canvas width - 1 and height - 1.
            let width = le24(data, 4).ok_or(TRUNCATED)?;
            let height = le24(data, 7).ok_or(TRUNCATED)?;
            Ok((width + 1, height + 1))
        }
        _ => Err(PhotoError::Corrupt("the WebP has no image chunk")),
    }
}

/// CRC-32 as PNG uses it (ISO 3309, reflected, polynomial 0xEDB88320).
fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut n = 0;
        while n < 256 {
            let mut c = n as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[n] = c;
            n += 1;
        }
        table
    };
    !data.iter().fold(!0u32, |crc, &byte| {
        TABLE[((crc ^ u32::from(byte)) & 0xFF) as usize] ^ (crc >> 8)
    })
}

/// SHA-256 of `bytes` as 64 lowercase hex digits.
fn sha256_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
        hex.push(char::from(DIGITS[usize::from(byte & 0x0F)]));
    }
    hex
}

/// Whether `name` can be a photo's name: exactly 64 lowercase hex digits, so
/// it can never climb out of the store's directory.
fn is_sha256_hex(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Photos on disk, named by the SHA-256 of their bytes, at
/// `root/ab/cd/abcd….ext`; the two directory levels keep any one directory
/// small.
#[derive(Debug, Clone)]
pub struct PhotoStore {
    root: PathBuf,
}

impl PhotoStore {
    /// A store under `root` (e.g. `DATA/photos`), created on the first `put`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        PhotoStore { root: root.into() }
    }

    /// Where a photo with this name and kind lives, or `None` if the name is
    /// not 64 lowercase hex digits.
    pub fn path_of(&self, sha256: &str, kind: PhotoKind) -> Option<PathBuf> {
        is_sha256_hex(sha256).then(|| self.layout(sha256, kind))
    }

    /// `sha256` must be checked already.
    fn layout(&self, sha256: &str, kind: PhotoKind) -> PathBuf {
        self.root
            .join(&sha256[0..2])
            .join(&sha256[2..4])
            .join(format!("{sha256}.{}", kind.extension()))
    }

    /// Checks an upload and keeps it, unless the same bytes are kept already.
    pub async fn put(&self, bytes: &[u8], max_bytes: usize) -> Result<StoredPhoto, PhotoError> {
        // Checked here, before copying, so a rejected upload costs little.
        let info = inspect(bytes, max_bytes)?;
        let owned = bytes.to_vec();
        let store = self.clone();
        // Hashing and fsync block: keep them off the async workers.
        tokio::task::spawn_blocking(move || store.put_blocking(&owned, info))
            .await
            .map_err(std::io::Error::other)?
    }

    fn put_blocking(&self, bytes: &[u8], info: PhotoInfo) -> Result<StoredPhoto, PhotoError> {
        let sha256 = sha256_hex(bytes);
        let path = self.layout(&sha256, info.kind);
        // Files only ever appear whole (by rename), so one that exists is
        // this very content.
        if !path.try_exists()? {
            write_atomically(&path, bytes)?;
        }
        Ok(StoredPhoto {
            sha256,
            kind: info.kind,
            width: info.width,
            height: info.height,
            bytes: info.bytes,
        })
    }

    /// The kind and bytes of the photo with this name; `None` if there is
    /// none or the name is malformed.
    pub async fn open(&self, sha256: &str) -> Result<Option<(PhotoKind, Vec<u8>)>, PhotoError> {
        for kind in PhotoKind::ALL {
            let Some(path) = self.path_of(sha256, kind) else {
                return Ok(None);
            };
            match tokio::fs::read(&path).await {
                Ok(bytes) => return Ok(Some((kind, bytes))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    }
}

/// Writes to a uniquely named file beside `path`, syncs it and renames it
/// into place, so readers never see a partial photo.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("a photo path has no directory"))?;
    std::fs::create_dir_all(dir)?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let temp = dir.join(format!(
        ".{}.{}-{}-{nanos}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("photo"),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
    ));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        // Best effort: the error that matters is the one returned.
        let _ = std::fs::remove_file(&temp);
    }
    written?;
    // Makes the new name itself durable; some file systems refuse to sync a
    // directory, and the photo is already whole, so that is not an error.
    #[cfg(unix)]
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// A whole, decodable RGB PNG of one colour, its pixels in stored
/// (uncompressed) deflate blocks: it stands in for camera photos in the demo
/// and in tests, without an image library.
pub fn solid_png(width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
    let row = 1 + 3 * width as usize; // filter byte, then RGB
    let raw: Vec<u8> = (0..row * height as usize)
        .map(|i| match i % row {
            0 => 0,
            j => rgb[(j - 1) % 3],
        })
        .collect();
    let mut zlib = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(0xFFFF).collect();
    for (i, block) in blocks.iter().enumerate() {
        zlib.push(u8::from(i + 1 == blocks.len()));
        zlib.extend_from_slice(&(block.len() as u16).to_le_bytes());
        zlib.extend_from_slice(&(!(block.len() as u16)).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    zlib.extend_from_slice(&adler32(&raw).to_be_bytes());

    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, no interlace

    let mut out = PNG_SIGNATURE.to_vec();
    png_chunk(&mut out, b"IHDR", &ihdr);
    png_chunk(&mut out, b"IDAT", &zlib);
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// A whole 8-bit greyscale PNG of `pixels` (row by row, one byte each), in
/// stored deflate blocks: for sharp two-tone images such as QR codes, where
/// compression would gain little.
pub fn grey_png(width: u32, height: u32, pixels: &[u8]) -> Vec<u8> {
    let w = width as usize;
    let mut raw = Vec::with_capacity((w + 1) * height as usize);
    for row in pixels.chunks(w.max(1)).take(height as usize) {
        raw.push(0); // filter: none
        raw.extend_from_slice(row);
    }
    let mut zlib = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(0xFFFF).collect();
    for (i, block) in blocks.iter().enumerate() {
        zlib.push(u8::from(i + 1 == blocks.len()));
        zlib.extend_from_slice(&(block.len() as u16).to_le_bytes());
        zlib.extend_from_slice(&(!(block.len() as u16)).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    zlib.extend_from_slice(&adler32(&raw).to_be_bytes());
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit greyscale, no interlace
    let mut out = PNG_SIGNATURE.to_vec();
    png_chunk(&mut out, b"IHDR", &ihdr);
    png_chunk(&mut out, b"IDAT", &zlib);
    png_chunk(&mut out, b"IEND", &[]);
    out
}

fn png_chunk(out: &mut Vec<u8>, chunk_type: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(chunk_type);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    b << 16 | a
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: usize = 1 << 20;

    fn png(width: u32, height: u32) -> Vec<u8> {
        solid_png(width, height, [0x80, 0x80, 0x80])
    }

    fn jpeg_segment(out: &mut Vec<u8>, marker: u8, data: &[u8]) {
        out.extend_from_slice(&[0xFF, marker]);
        out.extend_from_slice(&((data.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(data);
    }

    /// SOI, APP0 (JFIF), a DHT (whose marker sits in the SOF range but is not
    /// one), fill bytes and a TEM, SOF with the given marker, SOS, a little
    /// scan data, EOI.
    fn jpeg_with(sof: u8, width: u16, height: u16) -> Vec<u8> {
        let mut out = vec![0xFF, 0xD8];
        jpeg_segment(&mut out, 0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        jpeg_segment(
            &mut out,
            0xC4,
            &[0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        );
        out.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0x01]);
        let mut frame = vec![8];
        frame.extend_from_slice(&height.to_be_bytes());
        frame.extend_from_slice(&width.to_be_bytes());
        frame.extend_from_slice(&[1, 1, 0x11, 0]);
        jpeg_segment(&mut out, sof, &frame);
        jpeg_segment(&mut out, 0xDA, &[1, 1, 0, 0, 0x3F, 0]);
        out.extend_from_slice(&[0x12, 0x34, 0xFF, 0x00, 0x56, 0xFF, 0xD0, 0x78]);
        out.extend_from_slice(&[0xFF, 0xD9]);
        out
    }

    fn jpeg(width: u16, height: u16) -> Vec<u8> {
        jpeg_with(0xC0, width, height)
    }

    fn riff_webp(chunks: &[(&[u8; 4], Vec<u8>)]) -> Vec<u8> {
        let mut body = b"WEBP".to_vec();
        for (chunk_type, data) in chunks {
            body.extend_from_slice(*chunk_type);
            body.extend_from_slice(&(data.len() as u32).to_le_bytes());
            body.extend_from_slice(data);
            if data.len() % 2 == 1 {
                body.push(0);
            }
        }
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    fn vp8l_data(width: u32, height: u32) -> Vec<u8> {
        let bits = (width - 1) | (height - 1) << 14;
        let mut data = vec![0x2F];
        data.extend_from_slice(&bits.to_le_bytes());
        data.extend_from_slice(&[0x00, 0x07, 0x10]);
        data
    }

    fn webp_vp8l(width: u32, height: u32) -> Vec<u8> {
        riff_webp(&[(b"VP8L", vp8l_data(width, height))])
    }

    fn webp_vp8x(width: u32, height: u32) -> Vec<u8> {
        let mut vp8x = vec![0x10, 0, 0, 0];
        vp8x.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
        vp8x.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
        riff_webp(&[(b"VP8X", vp8x), (b"VP8L", vp8l_data(width, height))])
    }

    fn webp_vp8(width: u16, height: u16) -> Vec<u8> {
        // Key frame, version 0, shown, first partition of 8 bytes.
        let mut data = vec![0x10, 0x01, 0x00, 0x9D, 0x01, 0x2A];
        data.extend_from_slice(&width.to_le_bytes());
        data.extend_from_slice(&height.to_le_bytes());
        data.extend_from_slice(&[0; 8]);
        riff_webp(&[(b"VP8 ", data)])
    }

    fn dims(bytes: &[u8]) -> (PhotoKind, u32, u32) {
        let info = inspect(bytes, LIMIT).unwrap();
        assert_eq!(info.bytes, bytes.len());
        (info.kind, info.width, info.height)
    }

    fn assert_corrupt(bytes: &[u8]) {
        match inspect(bytes, LIMIT) {
            Err(PhotoError::Corrupt(_)) => {}
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            static COUNTER: AtomicU64 = AtomicU64::new(0);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            let path = std::env::temp_dir().join(format!(
                "pingan-photos-{}-{}-{nanos}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&path).unwrap();
            TempDir(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn files_under(dir: &Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                found.extend(files_under(&path));
            } else {
                found.push(path);
            }
        }
        found
    }

    #[test]
    fn kinds_name_their_mime_type_and_extension() {
        assert_eq!(PhotoKind::Jpeg.mime(), "image/jpeg");
        assert_eq!(PhotoKind::Png.mime(), "image/png");
        assert_eq!(PhotoKind::Webp.mime(), "image/webp");
        assert_eq!(PhotoKind::Jpeg.extension(), "jpg");
        assert_eq!(PhotoKind::Png.extension(), "png");
        assert_eq!(PhotoKind::Webp.extension(), "webp");
    }

    #[test]
    fn valid_images_are_recognised_with_their_dimensions() {
        assert_eq!(dims(&png(3, 2)), (PhotoKind::Png, 3, 2));
        assert_eq!(dims(&jpeg(640, 480)), (PhotoKind::Jpeg, 640, 480));
        assert_eq!(dims(&jpeg_with(0xC2, 17, 9)), (PhotoKind::Jpeg, 17, 9));
        assert_eq!(dims(&webp_vp8(320, 240)), (PhotoKind::Webp, 320, 240));
        assert_eq!(dims(&webp_vp8l(16383, 1)), (PhotoKind::Webp, 16383, 1));
        assert_eq!(dims(&webp_vp8x(20000, 7)), (PhotoKind::Webp, 20000, 7));
    }

    #[test]
    fn a_jpeg_may_carry_a_few_bytes_after_its_end() {
        let mut bytes = jpeg(8, 8);
        bytes.extend_from_slice(&[0; 20]);
        assert_eq!(dims(&bytes), (PhotoKind::Jpeg, 8, 8));
        bytes.extend_from_slice(&[0; 20]);
        assert_corrupt(&bytes);
    }

    #[test]
    fn what_is_not_an_image_is_refused_whatever_its_name() {
        for bytes in [
            &b""[..],
            b"hello, this is a text file called photo.jpg\n",
            b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;",
            b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00",
            &[0xFF, 0xD8],
            &PNG_SIGNATURE[..7],
        ] {
            let error = inspect(bytes, LIMIT).unwrap_err();
            assert!(matches!(error, PhotoError::NotAnImage), "{bytes:?}: {error:?}");
            assert_eq!(error.code(), "photo_not_an_image");
        }
    }

    #[test]
    fn truncated_images_are_corrupt() {
        let png = png(3, 2);
        for cut in [9, 20, 33, png.len() / 2, png.len() - 1] {
            assert_corrupt(&png[..cut]);
        }
        let jpeg = jpeg(10, 10);
        let frame_at = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        for cut in [3, 4, 10, frame_at + 3, frame_at + 8, jpeg.len() - 2] {
            assert_corrupt(&jpeg[..cut]);
        }
        let webp = webp_vp8(10, 10);
        assert_corrupt(&webp[..webp.len() - 2]);
        // Also when the RIFF size is patched to match the shorter length.
        let mut short = webp_vp8l(10, 10)[..22].to_vec();
        short[4..8].copy_from_slice(&14u32.to_le_bytes());
        assert_corrupt(&short);
    }

    #[test]
    fn a_png_with_a_wrong_header_checksum_is_corrupt() {
        let mut bytes = png(3, 2);
        bytes[29] ^= 0x01; // first byte of the IHDR CRC
        assert_corrupt(&bytes);
        // Or with the dimensions altered behind the CRC's back.
        let mut bytes = png(3, 2);
        bytes[19] = 4;
        assert_corrupt(&bytes);
    }

    #[test]
    fn a_png_must_end_with_iend_and_have_image_data() {
        let mut trailing = png(3, 2);
        trailing.extend_from_slice(b"junk");
        assert_corrupt(&trailing);
        let mut no_data = PNG_SIGNATURE.to_vec();
        no_data.extend_from_slice(&png(3, 2)[8..33]);
        png_chunk(&mut no_data, b"IEND", &[]);
        assert_corrupt(&no_data);
    }

    #[test]
    fn the_size_limit_is_enforced_before_parsing() {
        let garbage = vec![0u8; 100];
        match inspect(&garbage, 99) {
            Err(PhotoError::TooLarge {
                max: 99,
                actual: 100,
            }) => {}
            other => panic!("expected TooLarge, got {other:?}"),
        }
        let bytes = png(3, 2);
        let error = inspect(&bytes, bytes.len() - 1).unwrap_err();
        assert_eq!(error.code(), "photo_too_large");
        assert_eq!(
            error.to_string(),
            format!(
                "The photo is {} bytes, more than the limit of {} bytes.",
                bytes.len(),
                bytes.len() - 1
            )
        );
        assert!(inspect(&bytes, bytes.len()).is_ok());
    }

    #[test]
    fn zero_or_huge_dimensions_are_refused() {
        for (bytes, width, height) in [
            (png(0, 2), 0, 2),
            (png(2, 0), 2, 0),
            (jpeg(0, 10), 0, 10),
            (jpeg(10, 0), 10, 0),
            (webp_vp8(0, 5), 0, 5),
            (webp_vp8x(20001, 5), 20001, 5),
            (webp_vp8x(5, 1 << 24), 5, 1 << 24),
            (jpeg(20001, 10), 20001, 10),
        ] {
            match inspect(&bytes, LIMIT) {
                Err(e @ PhotoError::BadDimensions { .. }) => {
                    assert!(
                        matches!(e, PhotoError::BadDimensions { width: w, height: h } if w == width && h == height)
                    );
                    assert_eq!(e.code(), "photo_bad_dimensions");
                }
                other => panic!("expected BadDimensions for {width}x{height}, got {other:?}"),
            }
        }
    }

    #[test]
    fn errors_have_stable_codes() {
        assert_eq!(PhotoError::Corrupt("x").code(), "photo_corrupt");
        assert_eq!(
            PhotoError::Io(std::io::Error::other("x")).code(),
            "photo_io"
        );
        assert_eq!(PhotoError::NotAnImage.code(), "photo_not_an_image");
    }

    #[test]
    fn crc32_and_sha256_match_known_values() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[tokio::test]
    async fn put_lays_out_by_digest_and_stores_once() {
        let dir = TempDir::new();
        let store = PhotoStore::new(dir.0.join("photos"));
        let bytes = png(3, 2);
        let first = store.put(&bytes, LIMIT).await.unwrap();
        let second = store.put(&bytes, LIMIT).await.unwrap();
        assert_eq!(first, second);
        assert_eq!(first.sha256, sha256_hex(&bytes));
        assert_eq!(
            (first.kind, first.width, first.height, first.bytes),
            (PhotoKind::Png, 3, 2, bytes.len())
        );

        let hex = &first.sha256;
        let expected = dir
            .0
            .join("photos")
            .join(&hex[0..2])
            .join(&hex[2..4])
            .join(format!("{hex}.png"));
        assert_eq!(files_under(&dir.0), vec![expected.clone()]);
        assert_eq!(store.path_of(hex, PhotoKind::Png), Some(expected.clone()));
        assert_eq!(std::fs::read(&expected).unwrap(), bytes);
    }

    #[tokio::test]
    async fn put_refuses_what_inspect_refuses_and_writes_nothing() {
        let dir = TempDir::new();
        let store = PhotoStore::new(dir.0.join("photos"));
        let error = store.put(b"not a photo", LIMIT).await.unwrap_err();
        assert_eq!(error.code(), "photo_not_an_image");
        assert!(files_under(&dir.0).is_empty());
    }

    #[tokio::test]
    async fn open_returns_the_kind_and_bytes() {
        let dir = TempDir::new();
        let store = PhotoStore::new(&dir.0);
        let jpeg = jpeg(4, 3);
        let webp = webp_vp8x(5, 6);
        let stored_jpeg = store.put(&jpeg, LIMIT).await.unwrap();
        let stored_webp = store.put(&webp, LIMIT).await.unwrap();
        assert_eq!(
            store.open(&stored_jpeg.sha256).await.unwrap(),
            Some((PhotoKind::Jpeg, jpeg))
        );
        assert_eq!(
            store.open(&stored_webp.sha256).await.unwrap(),
            Some((PhotoKind::Webp, webp))
        );
        assert_eq!(store.open(&sha256_hex(b"absent")).await.unwrap(), None);
    }

    #[tokio::test]
    async fn malformed_names_reach_no_file() {
        let dir = TempDir::new();
        let store = PhotoStore::new(dir.0.join("photos"));
        let stored = store.put(&png(1, 1), LIMIT).await.unwrap();
        let upper = stored.sha256.to_uppercase();
        let traversal = format!("../../../../etc/passwd{}", &stored.sha256[22..]);
        assert_eq!(traversal.len(), 64);
        for name in [
            "../etc/passwd",
            traversal.as_str(),
            upper.as_str(),
            &stored.sha256[..63],
            &format!("{}0", stored.sha256),
            "",
            &format!("{}/{}", &stored.sha256[..31], &stored.sha256[32..]),
        ] {
            assert_eq!(store.path_of(name, PhotoKind::Png), None, "{name}");
            assert_eq!(store.open(name).await.unwrap(), None, "{name}");
        }
    }
}
