//! A zipped file (.docx, .xlsx, .ods) inflated once before its reader sees it, counting what
//! comes out: its entries' declared sizes are not believed, and a file that grows past
//! `MAX_INFLATED_BYTES` is refused before a library builds its XML in memory.

use std::io::{Cursor, Read};

use super::limits::MAX_INFLATED_BYTES;
use super::DocumentError;

pub fn check(bytes: &[u8], path: &str, kind: &'static str) -> Result<(), DocumentError> {
    check_within(bytes, path, kind, MAX_INFLATED_BYTES)
}

fn check_within(bytes: &[u8], path: &str, kind: &'static str, max: u64) -> Result<(), DocumentError> {
    let unreadable = |reason: String| DocumentError::Unreadable { path: path.to_owned(), kind, reason };
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| unreadable(format!("its zip structure is damaged ({e})")))?;
    let mut total = 0u64;
    let mut buf = vec![0u8; 64 << 10];
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| unreadable(format!("part {i} of its zip cannot be opened ({e})")))?;
        loop {
            let n = entry.read(&mut buf).map_err(|e| unreadable(format!("part {i} of its zip is damaged ({e})")))?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > max {
                return Err(DocumentError::Inflates { path: path.to_owned(), max: max >> 20 });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zipped(parts: &[(&str, usize)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, len) in parts {
            w.start_file(*name, zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated)).unwrap();
            w.write_all(&vec![b'a'; *len]).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn a_file_that_inflates_past_the_limit_is_refused_by_what_came_out() {
        let bomb = zipped(&[("word/document.xml", 3 << 20), ("word/other.xml", 3 << 20)]);
        assert!(bomb.len() < 64 << 10, "the test's zip is small: {}", bomb.len());
        let e = check_within(&bomb, "bomb.docx", "Word", 5 << 20).unwrap_err();
        assert_eq!(e.to_string(), "bomb.docx: it unpacks to more than 5 MB; files that unpack to at most 5 MB are read");
        check_within(&zipped(&[("a.xml", 1 << 20)]), "small.docx", "Word", 5 << 20).unwrap();
    }
}
