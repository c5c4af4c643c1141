//! A small PDF writer without dependencies: A4 pages of text lines, lines and
//! rectangles, enough for printable documents (the mediation agreement, the
//! monthly safety report).
//!
//! Text of every script is set in `STSong-Light` through the `UniGB-UTF16-H`
//! CMap (a Type0 font over a CIDFontType0 of the Adobe-GB1 collection): one
//! of the standard CJK fonts PDF readers supply themselves, so no font file
//! is embedded and the output stays small; renderers substitute an installed
//! CJK font (poppler needs `poppler-data` for the CMap).
use std::fmt::Write as _;

/// A4 in points (1/72 inch).
pub const A4_WIDTH: f32 = 595.28;
pub const A4_HEIGHT: f32 = 841.89;

/// One page's drawing operators. Coordinates are points from the bottom left.
#[derive(Debug, Default, Clone)]
pub struct Page {
    ops: String,
}

/// The advance of one character at `size`: full width for CJK and other
/// wide characters, half for ASCII (the `W` array gives ASCII 500/1000).
pub fn char_width(c: char, size: f32) -> f32 {
    if c.is_ascii() {
        size * 0.5
    } else {
        size
    }
}

/// The width of a line of text at `size`.
pub fn text_width(text: &str, size: f32) -> f32 {
    text.chars().map(|c| char_width(c, size)).sum()
}

/// Breaks `text` into lines no wider than `width` at `size`; explicit line
/// breaks are kept. Breaks fall between any two characters (as Chinese
/// typesetting allows), or at a space for runs of Latin text when possible.
pub fn wrap(text: &str, size: f32, width: f32) -> Vec<String> {
    let mut out = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        let mut w = 0.0;
        for c in paragraph.chars() {
            let cw = char_width(c, size);
            if w + cw > width && !line.is_empty() {
                // Prefer breaking Latin text at its last space.
                let cut = if c.is_ascii_alphanumeric() {
                    line.rfind(' ').filter(|i| *i > 0)
                } else {
                    None
                };
                match cut {
                    Some(i) => {
                        let rest = line.split_off(i + 1);
                        out.push(line.trim_end().to_string());
                        line = rest;
                        w = text_width(&line, size);
                    }
                    None => {
                        out.push(std::mem::take(&mut line));
                        w = 0.0;
                    }
                }
            }
            line.push(c);
            w += cw;
        }
        out.push(line);
    }
    out
}

/// UTF-16BE hex of a text, as the UniGB-UTF16-H CMap reads it.
fn utf16_hex(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 4);
    for unit in text.encode_utf16() {
        let _ = write!(out, "{unit:04X}");
    }
    out
}

fn num(v: f32) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".into()
    } else {
        s.to_string()
    }
}

impl Page {
    /// Text with its baseline starting at (x, y).
    pub fn text(&mut self, x: f32, y: f32, size: f32, text: &str) {
        let _ = writeln!(
            self.ops,
            "BT /F1 {} Tf {} {} Td <{}> Tj ET",
            num(size),
            num(x),
            num(y),
            utf16_hex(text)
        );
    }

    /// Text centred on x.
    pub fn text_centred(&mut self, x: f32, y: f32, size: f32, text: &str) {
        self.text(x - text_width(text, size) / 2.0, y, size, text);
    }

    /// Text ending at x.
    pub fn text_right(&mut self, x: f32, y: f32, size: f32, text: &str) {
        self.text(x - text_width(text, size), y, size, text);
    }

    pub fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, width: f32) {
        let _ = writeln!(
            self.ops,
            "{} w {} {} m {} {} l S",
            num(width),
            num(x1),
            num(y1),
            num(x2),
            num(y2)
        );
    }

    /// A stroked rectangle with its lower left corner at (x, y).
    pub fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, width: f32) {
        let _ = writeln!(
            self.ops,
            "{} w {} {} {} {} re S",
            num(width),
            num(x),
            num(y),
            num(w),
            num(h)
        );
    }

    /// A filled rectangle in a grey level (0 black … 1 white).
    pub fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, grey: f32) {
        let _ = writeln!(
            self.ops,
            "q {} g {} {} {} {} re f Q",
            num(grey.clamp(0.0, 1.0)),
            num(x),
            num(y),
            num(w),
            num(h)
        );
    }

    /// A filled rectangle in a colour (red, green, blue, each 0-1).
    pub fn fill_rect_rgb(&mut self, x: f32, y: f32, w: f32, h: f32, rgb: [f32; 3]) {
        let _ = writeln!(
            self.ops,
            "q {} {} {} rg {} {} {} {} re f Q",
            num(rgb[0]),
            num(rgb[1]),
            num(rgb[2]),
            num(x),
            num(y),
            num(w),
            num(h)
        );
    }

    /// Text in a colour.
    pub fn text_rgb(&mut self, x: f32, y: f32, size: f32, text: &str, rgb: [f32; 3]) {
        let _ = writeln!(
            self.ops,
            "q {} {} {} rg BT /F1 {} Tf {} {} Td <{}> Tj ET Q",
            num(rgb[0]),
            num(rgb[1]),
            num(rgb[2]),
            num(size),
            num(x),
            num(y),
            utf16_hex(text)
        );
    }

    /// Closed polygons (rings of points) filled even-odd in a colour, so
    /// holes stay open; outlined in grey when `stroke` gives a width.
    pub fn polygons(&mut self, rings: &[Vec<(f32, f32)>], rgb: [f32; 3], stroke: Option<f32>) {
        let mut path = String::new();
        for ring in rings.iter().filter(|r| r.len() >= 3) {
            for (i, (x, y)) in ring.iter().enumerate() {
                let _ = write!(
                    path,
                    "{} {} {} ",
                    num(*x),
                    num(*y),
                    if i == 0 { "m" } else { "l" }
                );
            }
            path.push_str("h ");
        }
        if path.is_empty() {
            return;
        }
        let paint = match stroke {
            Some(w) => format!("0.45 G {} w B*", num(w)),
            None => "f*".into(),
        };
        let _ = writeln!(
            self.ops,
            "q {} {} {} rg 1 j {path}{paint} Q",
            num(rgb[0]),
            num(rgb[1]),
            num(rgb[2]),
        );
    }

    /// A stroked circle (four Bézier arcs), e.g. a seal's place.
    pub fn circle(&mut self, cx: f32, cy: f32, r: f32, width: f32) {
        let k = 0.552_284_8 * r;
        let _ = writeln!(
            self.ops,
            "{w} w {x0} {cy} m {x0} {a} {b} {y1} {cx} {y1} c {c} {y1} {x1} {a} {x1} {cy} c \
             {x1} {d} {c} {y0} {cx} {y0} c {b} {y0} {x0} {d} {x0} {cy} c S",
            w = num(width),
            x0 = num(cx - r),
            x1 = num(cx + r),
            y0 = num(cy - r),
            y1 = num(cy + r),
            cx = num(cx),
            cy = num(cy),
            a = num(cy + k),
            b = num(cx - k),
            c = num(cx + k),
            d = num(cy - k),
        );
    }
}

/// A document of A4 pages.
#[derive(Debug, Default, Clone)]
pub struct Document {
    pub title: String,
    pages: Vec<Page>,
    /// Deflate the page contents (`FlateDecode`): maps and long tables
    /// shrink several times.
    pub compress: bool,
}

impl Document {
    pub fn new(title: &str) -> Self {
        Document {
            title: title.to_string(),
            pages: Vec::new(),
            compress: false,
        }
    }

    /// Adds a blank page and answers it.
    pub fn new_page(&mut self) -> &mut Page {
        self.pages.push(Page::default());
        self.pages.last_mut().expect("just pushed")
    }

    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// The page at `index`, if any.
    pub fn page_mut(&mut self, index: usize) -> Option<&mut Page> {
        self.pages.get_mut(index)
    }

    /// The PDF file: objects, cross-reference table and trailer.
    pub fn render(&self) -> Vec<u8> {
        let mut pages = self.pages.clone();
        if pages.is_empty() {
            pages.push(Page::default());
        }
        // Objects: 1 catalog, 2 pages, 3 font, 4 CID font, 5 descriptor,
        // 6 info, then per page its page object and content stream.
        let mut objects: Vec<Vec<u8>> = Vec::new();
        let n = pages.len();
        let page_id = |i: usize| 7 + 2 * i;
        objects.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
        let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", page_id(i))).collect();
        objects.push(
            format!(
                "<< /Type /Pages /Kids [{}] /Count {} /MediaBox [0 0 {} {}] >>",
                kids.join(" "),
                n,
                num(A4_WIDTH),
                num(A4_HEIGHT)
            )
            .into_bytes(),
        );
        objects.push(
            b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UTF16-H \
              /DescendantFonts [4 0 R] >>"
                .to_vec(),
        );
        objects.push(
            b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light \
              /CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 4 >> \
              /FontDescriptor 5 0 R /DW 1000 /W [1 95 500] >>"
                .to_vec(),
        );
        objects.push(
            b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 \
              /FontBBox [-25 -254 1000 880] /ItalicAngle 0 /Ascent 880 /Descent -120 \
              /CapHeight 880 /StemV 93 >>"
                .to_vec(),
        );
        objects.push(
            format!(
                "<< /Title <FEFF{}> /Producer (Pingan) >>",
                utf16_hex(&self.title)
            )
            .into_bytes(),
        );
        for (i, page) in pages.iter().enumerate() {
            objects.push(
                format!(
                    "<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
                    page_id(i) + 1
                )
                .into_bytes(),
            );
            let (body, filter) = if self.compress {
                (deflate(page.ops.as_bytes()), " /Filter /FlateDecode")
            } else {
                (page.ops.as_bytes().to_vec(), "")
            };
            let mut stream = format!("<< /Length {}{filter} >>\nstream\n", body.len()).into_bytes();
            stream.extend_from_slice(&body);
            stream.extend_from_slice(b"\nendstream");
            objects.push(stream);
        }
        let mut out: Vec<u8> = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
        let mut offsets = Vec::with_capacity(objects.len());
        for (i, body) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
            out.extend_from_slice(body);
            out.extend_from_slice(b"\nendobj\n");
        }
        let xref = out.len();
        out.extend_from_slice(format!("xref\n0 {}\n", objects.len() + 1).as_bytes());
        out.extend_from_slice(b"0000000000 65535 f \n");
        for off in offsets {
            out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R /Info 6 0 R >>\nstartxref\n{xref}\n%%EOF\n",
                objects.len() + 1
            )
            .as_bytes(),
        );
        out
    }
}

fn deflate(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}

/// Flowing layout down A4 pages with margins: paragraphs wrap and move to a
/// new page when the current one is full.
#[derive(Debug)]
pub struct Flow {
    pub doc: Document,
    /// The baseline of the next line.
    pub y: f32,
    pub margin: f32,
}

impl Flow {
    pub fn new(title: &str, margin: f32) -> Self {
        let mut doc = Document::new(title);
        doc.new_page();
        Flow {
            doc,
            y: A4_HEIGHT - margin,
            margin,
        }
    }

    pub fn width(&self) -> f32 {
        A4_WIDTH - 2.0 * self.margin
    }

    /// The current page.
    pub fn page(&mut self) -> &mut Page {
        let last = self.doc.page_count() - 1;
        self.doc.page_mut(last).expect("a flow always has a page")
    }

    /// Makes room for `height` points, starting a new page if needed.
    pub fn need(&mut self, height: f32) {
        if self.y - height < self.margin {
            self.doc.new_page();
            self.y = A4_HEIGHT - self.margin;
        }
    }

    pub fn gap(&mut self, height: f32) {
        self.y -= height;
    }

    /// A line of text centred on the page.
    pub fn centred(&mut self, size: f32, text: &str) {
        self.need(size * 1.6);
        self.y -= size;
        let y = self.y;
        self.page().text_centred(A4_WIDTH / 2.0, y, size, text);
        self.y -= size * 0.6;
    }

    /// A wrapped paragraph, indented by `indent` points.
    pub fn paragraph(&mut self, size: f32, indent: f32, text: &str) {
        let width = self.width() - indent;
        for line in wrap(text, size, width) {
            self.need(size * 1.5);
            self.y -= size;
            let (x, y) = (self.margin + indent, self.y);
            self.page().text(x, y, size, &line);
            self.y -= size * 0.5;
        }
    }

    /// A table: one wrapped cell per column, widths in points; each row is
    /// as tall as its tallest cell and starts a new page when needed.
    pub fn table(&mut self, size: f32, widths: &[f32], rows: &[Vec<String>]) {
        self.table_styled(size, widths, rows, false);
    }

    /// A table as [`Flow::table`]; with `header`, the first row is shaded
    /// and repeated at the top of every further page the table runs onto.
    pub fn table_styled(&mut self, size: f32, widths: &[f32], rows: &[Vec<String>], header: bool) {
        let pad = 4.0;
        let mut pages_before = self.doc.page_count();
        let mut queue: std::collections::VecDeque<(bool, &Vec<String>)> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (header && i == 0, r))
            .collect();
        while let Some((shaded, row)) = queue.pop_front() {
            let cells: Vec<Vec<String>> = row
                .iter()
                .zip(widths)
                .map(|(text, w)| wrap(text, size, w - 2.0 * pad))
                .collect();
            let lines = cells.iter().map(Vec::len).max().unwrap_or(1).max(1);
            let height = lines as f32 * size * 1.4 + 2.0 * pad;
            self.need(height);
            if header && !shaded && self.doc.page_count() != pages_before {
                // The table ran onto a new page: repeat its header first.
                pages_before = self.doc.page_count();
                queue.push_front((false, row));
                queue.push_front((true, &rows[0]));
                continue;
            }
            let top = self.y;
            let mut x = self.margin;
            let total: f32 = widths.iter().sum();
            if shaded {
                let m = self.margin;
                self.page().fill_rect(m, top - height, total, height, 0.92);
            }
            for (cell, w) in cells.iter().zip(widths) {
                let page = self.page();
                page.rect(x, top - height, *w, height, 0.5);
                for (i, line) in cell.iter().enumerate() {
                    page.text(
                        x + pad,
                        top - pad - size - i as f32 * size * 1.4,
                        size,
                        line,
                    );
                }
                x += w;
            }
            self.y = top - height;
            pages_before = self.doc.page_count();
        }
    }

    pub fn finish(self) -> Vec<u8> {
        self.doc.render()
    }
}

/// Checks what a reader needs to open the file: the header, every
/// cross-reference offset pointing at its object, and `startxref` pointing at
/// the table. Answers the number of objects. For tests and self-checks.
pub fn check_structure(pdf: &[u8]) -> Result<usize, String> {
    if !pdf.starts_with(b"%PDF-1.") {
        return Err("no %PDF header".into());
    }
    // Offsets count bytes: look in the raw bytes, not in a lossy string
    // (the binary comment on line 2 is not UTF-8).
    let tail = pdf
        .windows(9)
        .rposition(|w| w == b"startxref")
        .ok_or("no startxref")?;
    let text = String::from_utf8_lossy(&pdf[tail..]);
    let xref: usize = text[9..]
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or("startxref without an offset")?;
    if xref >= pdf.len() || !pdf[xref..].starts_with(b"xref\n") {
        return Err(format!("startxref {xref} does not point at the xref table"));
    }
    let table = String::from_utf8_lossy(&pdf[xref..]);
    let mut lines = table.lines().skip(1);
    let header = lines.next().ok_or("empty xref")?;
    let count: usize = header
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("bad xref header")?;
    lines.next();
    for i in 1..count {
        let line = lines.next().ok_or("xref too short")?;
        let off: usize = line
            .get(..10)
            .and_then(|n| n.parse().ok())
            .ok_or("bad xref entry")?;
        let expected = format!("{i} 0 obj");
        if off >= pdf.len() || !pdf[off..].starts_with(expected.as_bytes()) {
            return Err(format!("xref entry {i} points at {off}, not at its object"));
        }
    }
    if !table.trim_end().ends_with("%%EOF") {
        return Err("no %%EOF".into());
    }
    Ok(count - 1)
}

/// The UTF-16BE hex form a text takes in the file, to look for it in tests.
pub fn hex_of(text: &str) -> String {
    utf16_hex(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structure_is_sound_and_text_is_utf16() {
        let mut flow = Flow::new("人民调解协议书", 56.0);
        flow.centred(20.0, "人民调解协议书");
        flow.paragraph(
            11.0,
            0.0,
            "当事人：张三，男，1980年1月1日出生。Party A agrees to pay 5,000 yuan.",
        );
        flow.table(
            10.0,
            &[60.0, 300.0, 120.0],
            &[vec![
                "1".into(),
                "支付欠薪五千元".into(),
                "2026-02-01".into(),
            ]],
        );
        for _ in 0..80 {
            flow.paragraph(11.0, 20.0, "第二页的内容会自动换页。");
        }
        flow.page().circle(400.0, 200.0, 40.0, 1.0);
        let pages = flow.doc.page_count();
        assert!(pages >= 2, "{pages}");
        let pdf = flow.finish();
        let objects = check_structure(&pdf).unwrap();
        assert_eq!(objects, 6 + 2 * pages);
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains(&format!("<{}>", hex_of("人民调解协议书"))));
        assert_eq!(hex_of("人民"), "4EBA6C11");
        assert!(text.contains("/Encoding /UniGB-UTF16-H"));
        assert!(text.contains("/Ordering (GB1)"));
        assert!(text.contains(&format!("/Count {pages}")));
    }

    #[test]
    fn broken_files_are_caught() {
        let pdf = Document::new("x").render();
        check_structure(&pdf).unwrap();
        let mut shifted = pdf.clone();
        shifted.insert(20, b' ');
        assert!(check_structure(&shifted).is_err());
        assert!(check_structure(b"hello").is_err());
    }

    #[test]
    fn a_long_table_repeats_its_shaded_header_on_every_page() {
        let mut flow = Flow::new("t", 40.0);
        let mut rows = vec![vec!["名称".to_string(), "数".to_string()]];
        rows.extend((0..120).map(|i| vec![format!("行{i}"), i.to_string()]));
        flow.table_styled(10.0, &[200.0, 100.0], &rows, true);
        let pages = flow.doc.page_count();
        assert!(pages >= 3, "{pages}");
        let header = utf16_hex("名称");
        for page in &flow.doc.pages {
            assert_eq!(page.ops.matches(&header).count(), 1);
            assert_eq!(
                page.ops.matches(" g ").count(),
                1,
                "one shaded row per page"
            );
        }
        // Every data row appears once.
        let all: String = flow.doc.pages.iter().map(|p| p.ops.as_str()).collect();
        for i in [0, 59, 119] {
            assert_eq!(
                all.matches(&format!("<{}>", utf16_hex(&format!("行{i}"))))
                    .count(),
                1
            );
        }
        // Compressed output is still a sound file, and smaller.
        let plain = flow.doc.render();
        flow.doc.compress = true;
        let packed = flow.doc.render();
        assert_eq!(
            check_structure(&packed).unwrap(),
            check_structure(&plain).unwrap()
        );
        assert!(
            packed.len() * 3 < plain.len(),
            "{} vs {}",
            packed.len(),
            plain.len()
        );
    }

    #[test]
    fn wrapping_keeps_lines_within_the_width() {
        let lines = wrap("一二三四五六七八九十", 10.0, 35.0);
        assert_eq!(lines, ["一二三", "四五六", "七八九", "十"]);
        let latin = wrap("pay the wages now", 10.0, 50.0);
        assert_eq!(latin, ["pay the", "wages now"]);
        assert_eq!(wrap("a\nb", 10.0, 100.0), ["a", "b"]);
        assert_eq!(num(12.0), "12");
        assert_eq!(num(0.5), "0.5");
    }
}
