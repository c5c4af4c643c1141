//! A small XLSX writer: worksheets of text, numbers and percentages with a
//! bold, frozen header row, in a deflated ZIP. Enough for the monthly
//! report's tables; spreadsheet programs open it as any workbook.
use std::fmt::Write as _;
use std::io::Write as _;

use flate2::write::DeflateEncoder;
use flate2::{Compression, Crc};

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(f64),
    /// A ratio shown as a percentage with two decimals (0.9372 → 93.72%).
    Percent(f64),
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_string())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(s)
    }
}

impl From<i64> for Cell {
    fn from(v: i64) -> Cell {
        Cell::Number(v as f64)
    }
}

/// A worksheet: the first row is the header.
#[derive(Debug, Clone, Default)]
pub struct Sheet {
    pub name: String,
    /// Column widths in characters; missing ones are 12.
    pub widths: Vec<f32>,
    pub rows: Vec<Vec<Cell>>,
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // XML 1.0 forbids most control characters.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// The column letters of a 0-based index (0 → A, 26 → AA).
fn column(mut i: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).expect("ASCII letters")
}

fn sheet_xml(sheet: &Sheet) -> String {
    let mut x = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
         <worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">\
         <sheetViews><sheetView workbookViewId=\"0\"><pane ySplit=\"1\" topLeftCell=\"A2\" \
         activePane=\"bottomLeft\" state=\"frozen\"/></sheetView></sheetViews>",
    );
    let columns = sheet.rows.iter().map(Vec::len).max().unwrap_or(0);
    if columns > 0 {
        x.push_str("<cols>");
        for c in 0..columns {
            let w = sheet.widths.get(c).copied().unwrap_or(12.0);
            let _ = write!(
                x,
                "<col min=\"{n}\" max=\"{n}\" width=\"{w}\" customWidth=\"1\"/>",
                n = c + 1
            );
        }
        x.push_str("</cols>");
    }
    x.push_str("<sheetData>");
    for (r, row) in sheet.rows.iter().enumerate() {
        let _ = write!(x, "<row r=\"{}\">", r + 1);
        for (c, cell) in row.iter().enumerate() {
            let at = format!("{}{}", column(c), r + 1);
            // Style 1 is the bold header, 2 the percentage.
            let header = if r == 0 { " s=\"1\"" } else { "" };
            match cell {
                Cell::Empty => {}
                Cell::Text(t) => {
                    let _ = write!(
                        x,
                        "<c r=\"{at}\" t=\"inlineStr\"{header}><is><t xml:space=\"preserve\">{}</t></is></c>",
                        escape(t)
                    );
                }
                Cell::Number(v) if v.is_finite() => {
                    let _ = write!(x, "<c r=\"{at}\"{header}><v>{v}</v></c>");
                }
                Cell::Percent(v) if v.is_finite() => {
                    let _ = write!(x, "<c r=\"{at}\" s=\"2\"><v>{v}</v></c>");
                }
                Cell::Number(_) | Cell::Percent(_) => {}
            }
        }
        x.push_str("</row>");
    }
    x.push_str("</sheetData></worksheet>");
    x
}

/// Sheet names: at most 31 characters, none of `[]:*?/\`, unique.
fn sheet_name(name: &str, taken: &[String]) -> String {
    let clean: String = name
        .chars()
        .filter(|c| !matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\'))
        .take(28)
        .collect();
    let mut out = if clean.is_empty() {
        "Sheet".to_string()
    } else {
        clean
    };
    let base = out.clone();
    let mut n = 2;
    while taken.contains(&out) {
        out = format!("{base}{n}");
        n += 1;
    }
    out
}

/// The workbook file.
pub fn workbook(sheets: &[Sheet]) -> Vec<u8> {
    let mut names: Vec<String> = Vec::new();
    for s in sheets {
        let n = sheet_name(&s.name, &names);
        names.push(n);
    }
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut types = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
         <Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
         <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
         <Default Extension=\"xml\" ContentType=\"application/xml\"/>\
         <Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>\
         <Override PartName=\"/xl/styles.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml\"/>",
    );
    for i in 0..sheets.len() {
        let _ = write!(
            types,
            "<Override PartName=\"/xl/worksheets/sheet{}.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>",
            i + 1
        );
    }
    types.push_str("</Types>");
    files.push(("[Content_Types].xml".into(), types.into_bytes()));
    files.push((
        "_rels/.rels".into(),
        b"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
          <Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
          <Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"xl/workbook.xml\"/>\
          </Relationships>"
            .to_vec(),
    ));
    let mut wb = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
         <workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" \
         xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><sheets>",
    );
    let mut rels = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
         <Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">",
    );
    for (i, name) in names.iter().enumerate() {
        let _ = write!(
            wb,
            "<sheet name=\"{}\" sheetId=\"{n}\" r:id=\"rId{n}\"/>",
            escape(name),
            n = i + 1
        );
        let _ = write!(
            rels,
            "<Relationship Id=\"rId{n}\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet{n}.xml\"/>",
            n = i + 1
        );
    }
    let _ = write!(
        rels,
        "<Relationship Id=\"rId{}\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles\" Target=\"styles.xml\"/></Relationships>",
        names.len() + 1
    );
    wb.push_str("</sheets></workbook>");
    files.push(("xl/workbook.xml".into(), wb.into_bytes()));
    files.push(("xl/_rels/workbook.xml.rels".into(), rels.into_bytes()));
    files.push((
        "xl/styles.xml".into(),
        b"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
          <styleSheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">\
          <fonts count=\"2\"><font><sz val=\"11\"/><name val=\"Calibri\"/></font>\
          <font><b/><sz val=\"11\"/><name val=\"Calibri\"/></font></fonts>\
          <fills count=\"2\"><fill><patternFill patternType=\"none\"/></fill>\
          <fill><patternFill patternType=\"gray125\"/></fill></fills>\
          <borders count=\"1\"><border><left/><right/><top/><bottom/><diagonal/></border></borders>\
          <cellStyleXfs count=\"1\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\"/></cellStyleXfs>\
          <cellXfs count=\"3\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\"/>\
          <xf numFmtId=\"0\" fontId=\"1\" fillId=\"0\" borderId=\"0\" xfId=\"0\" applyFont=\"1\"/>\
          <xf numFmtId=\"10\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\" applyNumberFormat=\"1\"/></cellXfs>\
          </styleSheet>"
            .to_vec(),
    ));
    for (i, sheet) in sheets.iter().enumerate() {
        files.push((
            format!("xl/worksheets/sheet{}.xml", i + 1),
            sheet_xml(sheet).into_bytes(),
        ));
    }
    zip(&files)
}

/// A ZIP archive of deflated files (dated 1980-01-01, the format's epoch).
fn zip(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in files {
        let mut crc = Crc::new();
        crc.update(data);
        let mut enc = DeflateEncoder::new(Vec::new(), Compression::default());
        enc.write_all(data).expect("writing to a Vec cannot fail");
        let packed = enc.finish().expect("writing to a Vec cannot fail");
        let offset = out.len() as u32;
        let head = |sig: u32, central: bool| {
            let mut h = Vec::new();
            h.extend_from_slice(&sig.to_le_bytes());
            if central {
                h.extend_from_slice(&20u16.to_le_bytes()); // made by
            }
            h.extend_from_slice(&20u16.to_le_bytes()); // version needed
            h.extend_from_slice(&0x0800u16.to_le_bytes()); // UTF-8 names
            h.extend_from_slice(&8u16.to_le_bytes()); // deflate
            h.extend_from_slice(&0u16.to_le_bytes()); // time
            h.extend_from_slice(&0x0021u16.to_le_bytes()); // 1980-01-01
            h.extend_from_slice(&crc.sum().to_le_bytes());
            h.extend_from_slice(&(packed.len() as u32).to_le_bytes());
            h.extend_from_slice(&(data.len() as u32).to_le_bytes());
            h.extend_from_slice(&(name.len() as u16).to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes()); // extra
            if central {
                h.extend_from_slice(&0u16.to_le_bytes()); // comment
                h.extend_from_slice(&0u16.to_le_bytes()); // disk
                h.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
                h.extend_from_slice(&0u32.to_le_bytes()); // external attributes
                h.extend_from_slice(&offset.to_le_bytes());
            }
            h.extend_from_slice(name.as_bytes());
            h
        };
        out.extend_from_slice(&head(0x0403_4b50, false));
        out.extend_from_slice(&packed);
        central.extend_from_slice(&head(0x0201_4b50, true));
    }
    let start = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]); // disk numbers
    out.extend_from_slice(&(files.len() as u16).to_le_bytes());
    out.extend_from_slice(&(files.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&start.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// The files of a ZIP written by [`workbook`], inflated and CRC-checked:
/// for tests and self-checks.
pub fn unzip(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    use std::io::Read as _;
    let u16_at = |i: usize| -> Result<usize, String> {
        bytes
            .get(i..i + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
            .ok_or_else(|| "truncated".to_string())
    };
    let u32_at = |i: usize| -> Result<u32, String> {
        bytes
            .get(i..i + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| "truncated".to_string())
    };
    let end = bytes.len().checked_sub(22).ok_or("too short")?;
    if u32_at(end)? != 0x0605_4b50 {
        return Err("no end of central directory".into());
    }
    let count = u16_at(end + 10)?;
    let mut at = u32_at(end + 16)? as usize;
    let mut out = Vec::new();
    for _ in 0..count {
        if u32_at(at)? != 0x0201_4b50 {
            return Err(format!("no central header at {at}"));
        }
        let crc = u32_at(at + 16)?;
        let packed = u32_at(at + 20)? as usize;
        let size = u32_at(at + 24)? as usize;
        let name_len = u16_at(at + 28)?;
        let extra = u16_at(at + 30)?;
        let comment = u16_at(at + 32)?;
        let local = u32_at(at + 42)? as usize;
        let name = String::from_utf8(bytes[at + 46..at + 46 + name_len].to_vec())
            .map_err(|e| e.to_string())?;
        if u32_at(local)? != 0x0403_4b50 {
            return Err(format!("no local header for {name}"));
        }
        let data_at = local + 30 + u16_at(local + 26)? + u16_at(local + 28)?;
        let packed_bytes = bytes
            .get(data_at..data_at + packed)
            .ok_or_else(|| format!("{name} is truncated"))?;
        let mut data = Vec::with_capacity(size);
        flate2::read::DeflateDecoder::new(packed_bytes)
            .read_to_end(&mut data)
            .map_err(|e| format!("{name}: {e}"))?;
        let mut check = Crc::new();
        check.update(&data);
        if data.len() != size || check.sum() != crc {
            return Err(format!("{name} fails its size or CRC"));
        }
        out.push((name, data));
        at += 46 + name_len + extra + comment;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_lettered_like_spreadsheets() {
        assert_eq!(column(0), "A");
        assert_eq!(column(25), "Z");
        assert_eq!(column(26), "AA");
        assert_eq!(column(27), "AB");
        assert_eq!(column(701), "ZZ");
        assert_eq!(column(702), "AAA");
    }

    #[test]
    fn a_workbook_unzips_to_its_sheets_with_escaped_text() {
        let sheets = vec![
            Sheet {
                name: "概况/Summary".into(),
                widths: vec![20.0],
                rows: vec![
                    vec!["指标".into(), "值".into()],
                    vec!["办结率 <&>".into(), Cell::Percent(0.9372)],
                    vec![
                        "受理数".into(),
                        1054.into(),
                        Cell::Empty,
                        Cell::Number(f64::NAN),
                    ],
                ],
            },
            Sheet {
                name: "概况/Summary".into(),
                ..Sheet::default()
            },
        ];
        let bytes = workbook(&sheets);
        let files = unzip(&bytes).unwrap();
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"[Content_Types].xml"));
        assert!(names.contains(&"xl/worksheets/sheet2.xml"));
        let text = |n: &str| {
            String::from_utf8(files.iter().find(|(f, _)| f == n).unwrap().1.clone()).unwrap()
        };
        let wb = text("xl/workbook.xml");
        // The slash is dropped and the second name made unique.
        assert!(wb.contains("name=\"概况Summary\""), "{wb}");
        assert!(wb.contains("name=\"概况Summary2\""), "{wb}");
        let s1 = text("xl/worksheets/sheet1.xml");
        assert!(s1.contains("办结率 &lt;&amp;&gt;"));
        assert!(s1.contains("<c r=\"B2\" s=\"2\"><v>0.9372</v></c>"));
        assert!(s1.contains("<c r=\"B3\"><v>1054</v></c>"));
        assert!(!s1.contains("NaN"));
        assert!(s1.contains("state=\"frozen\""));
        // A flipped byte is caught.
        let mut broken = bytes.clone();
        broken[60] ^= 0xff;
        assert!(unzip(&broken).is_err());
    }
}
