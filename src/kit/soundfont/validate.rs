//! Structural checks run on an SF2 file before rustysynth parses it: rustysynth trusts declared
//! chunk sizes (a garbled size would make it allocate gigabytes) and the index fields linking
//! presets to zones to generators (a garbled index makes it panic). Each check refuses the file
//! with the reason.

use std::collections::HashMap;

type Check = std::result::Result<(), String>;
/// A chunk's id and body.
type Chunk<'a> = ([u8; 4], &'a [u8]);

/// Every declared size fits in the file, the three lists are there, and the preset and
/// instrument tables index inside their zone and generator tables.
pub fn check_structure(bytes: &[u8]) -> Check {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"sfbk" {
        return Err("no RIFF `sfbk` header".to_string());
    }
    let declared = u32_at(bytes, 4) as usize;
    if declared.saturating_add(8) > bytes.len() {
        return Err(format!(
            "truncated: the header announces {} bytes, the file has {}",
            declared.saturating_add(8),
            bytes.len()
        ));
    }
    let mut lists: HashMap<[u8; 4], HashMap<[u8; 4], &[u8]>> = HashMap::new();
    for (id, body) in chunks(bytes, 12, 8 + declared)? {
        if id != *b"LIST" {
            continue;
        }
        if body.len() < 4 {
            return Err("a LIST chunk has no type".to_string());
        }
        let kind = [body[0], body[1], body[2], body[3]];
        let sub = chunks(body, 4, body.len())?.into_iter().collect();
        lists.insert(kind, sub);
    }
    for needed in [b"INFO", b"sdta", b"pdta"] {
        if !lists.contains_key(needed) {
            return Err(format!("no `{}` list", String::from_utf8_lossy(needed)));
        }
    }
    check_tables(&lists[b"pdta"])
}

/// The chunks of `bytes[start..end]` as (id, body); bodies are padded to an even length.
fn chunks(bytes: &[u8], start: usize, end: usize) -> std::result::Result<Vec<Chunk<'_>>, String> {
    let mut found = Vec::new();
    let mut pos = start;
    while pos + 8 <= end {
        let id = [bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]];
        let size = u32_at(bytes, pos + 4) as usize;
        let body_end = (pos + 8).saturating_add(size);
        if body_end > end {
            return Err(format!(
                "truncated `{}` chunk ({size} bytes announced, {} left)",
                String::from_utf8_lossy(&id),
                end - pos - 8
            ));
        }
        found.push((id, &bytes[pos + 8..body_end]));
        pos = body_end + (size & 1);
    }
    Ok(found)
}

/// Headers (presets or instruments) point into bags (zones), bags into generators: each index
/// column must rise and stay inside the table it points into, whose last record is a terminal.
fn check_tables(pdta: &HashMap<[u8; 4], &[u8]>) -> Check {
    for (headers, size, offset, bags, gens) in [
        (b"phdr", 38, 24, b"pbag", b"pgen"),
        (b"inst", 22, 20, b"ibag", b"igen"),
    ] {
        let bag_count = records(pdta, bags, 4)?;
        let gen_count = records(pdta, gens, 4)?;
        records(pdta, headers, size)?;
        check_index_column(pdta, headers, size, offset, bag_count)?;
        check_index_column(pdta, bags, 4, 0, gen_count)?;
    }
    records(pdta, b"shdr", 46)?;
    Ok(())
}

/// How many records of `size` bytes the chunk holds (at least the terminal one).
fn records(
    pdta: &HashMap<[u8; 4], &[u8]>,
    id: &[u8; 4],
    size: usize,
) -> std::result::Result<usize, String> {
    let name = String::from_utf8_lossy(id);
    let body = pdta.get(id).ok_or_else(|| format!("no `{name}` table"))?;
    if body.is_empty() || body.len() % size != 0 {
        return Err(format!(
            "`{name}` table of {} bytes is not whole {size}-byte records",
            body.len()
        ));
    }
    Ok(body.len() / size)
}

/// The u16 index at `offset` of every record of `id` never decreases, and the last (the
/// terminal's, which ends the previous record's span) is below `target_count`.
fn check_index_column(
    pdta: &HashMap<[u8; 4], &[u8]>,
    id: &[u8; 4],
    size: usize,
    offset: usize,
    target_count: usize,
) -> Check {
    let mut previous = 0usize;
    for record in pdta[id].chunks_exact(size) {
        let index = usize::from(u16::from_le_bytes([record[offset], record[offset + 1]]));
        if index < previous || index >= target_count {
            return Err(format!(
                "`{}` table points outside its zones (index {index} of {target_count})",
                String::from_utf8_lossy(id)
            ));
        }
        previous = index;
    }
    Ok(())
}

fn u32_at(bytes: &[u8], pos: usize) -> u32 {
    u32::from_le_bytes([bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_problem() {
        assert!(check_structure(b"RIFX0000sfbk")
            .unwrap_err()
            .contains("RIFF"));
        let mut header = b"RIFF".to_vec();
        header.extend(100u32.to_le_bytes());
        header.extend(b"sfbk");
        assert!(check_structure(&header).unwrap_err().contains("truncated"));
        let mut file = b"RIFF".to_vec();
        file.extend(12u32.to_le_bytes());
        file.extend(b"sfbkLIST");
        file.extend(40u32.to_le_bytes());
        assert!(check_structure(&file).unwrap_err().contains("`LIST`"));
    }

    #[test]
    fn index_columns_must_rise_inside_their_table() {
        let column =
            |values: &[u16]| -> Vec<u8> { values.iter().flat_map(|v| v.to_le_bytes()).collect() };
        let mut pdta = HashMap::new();
        let rising = column(&[0, 2, 2, 5]);
        pdta.insert(*b"pbag", rising.as_slice());
        assert!(check_index_column(&pdta, b"pbag", 2, 0, 6).is_ok());
        assert!(check_index_column(&pdta, b"pbag", 2, 0, 5)
            .unwrap_err()
            .contains("index 5 of 5"));
        let falling = column(&[0, 3, 1]);
        pdta.insert(*b"pbag", falling.as_slice());
        assert!(check_index_column(&pdta, b"pbag", 2, 0, 6).is_err());
    }
}
