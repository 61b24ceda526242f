//! The zip's central directory read as listed, so duplicate member names (which the zip
//! crate's archive view folds into one) are seen.

use std::io::Read;

/// Names in the central directory exactly as listed, duplicates included (the zip crate's
/// archive view keeps one entry per name). `None` for zip64 archives, which dossier writes only
/// for members over 4 GiB; the crate's own checks cover those.
pub(super) fn central_directory_names(
    mut f: impl Read + std::io::Seek,
    len: u64,
    max_entries: usize,
) -> Result<Option<Vec<String>>, String> {
    use std::io::SeekFrom;
    let tail_len = len.min(22 + 65535);
    f.seek(SeekFrom::Start(len - tail_len))
        .map_err(|e| e.to_string())?;
    let mut tail = vec![0u8; tail_len as usize];
    f.read_exact(&mut tail).map_err(|e| e.to_string())?;
    let Some(pos) = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail[i..i + 4] == [0x50, 0x4b, 0x05, 0x06])
    else {
        return Err("no end-of-central-directory record".into());
    };
    let eocd = &tail[pos..];
    let le16 = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as u64;
    let le32 = |b: &[u8], o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]) as u64;
    let (entries, cd_size, cd_offset) = (le16(eocd, 10), le32(eocd, 12), le32(eocd, 16));
    if entries == 0xFFFF || cd_size == 0xFFFF_FFFF || cd_offset == 0xFFFF_FFFF {
        return Ok(None);
    }
    if entries as usize > max_entries || cd_offset.saturating_add(cd_size) > len {
        return Err("end record points outside the file".into());
    }
    f.seek(SeekFrom::Start(cd_offset))
        .map_err(|e| e.to_string())?;
    let mut cd = vec![0u8; cd_size as usize];
    f.read_exact(&mut cd).map_err(|e| e.to_string())?;
    let mut names = Vec::with_capacity(entries as usize);
    let mut at = 0usize;
    for _ in 0..entries {
        if at + 46 > cd.len() || cd[at..at + 4] != [0x50, 0x4b, 0x01, 0x02] {
            return Err(format!(
                "entry {} of {entries} is not a central directory header",
                names.len() + 1
            ));
        }
        let (n, x, c) = (
            le16(&cd, at + 28) as usize,
            le16(&cd, at + 30) as usize,
            le16(&cd, at + 32) as usize,
        );
        let name = cd
            .get(at + 46..at + 46 + n)
            .ok_or("central directory entry runs past its end")?;
        names.push(String::from_utf8_lossy(name).into_owned());
        at += 46 + n + x + c;
    }
    Ok(Some(names))
}

/// Whether the plain zip archive at `path` lists member `name` in its central directory,
/// read without verifying anything (a hint, such as whether a bundle may hold imported
/// events); `None` when that cannot be told (not a file dossier reads as a plain zip: an
/// encrypted or damaged bundle, zip64).
pub fn lists_member(path: &std::path::Path, name: &str, max_entries: usize) -> Option<bool> {
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    let names = central_directory_names(&mut f, len, max_entries).ok()??;
    Some(names.iter().any(|n| n == name))
}
