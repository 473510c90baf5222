//! A PDF page's glyphs, placed, turned into what a reader sees: lines in reading order (a
//! two-column page read column by column), paragraphs and headings, and tables — rows of
//! cells whose columns come from where the text stands, since most PDFs (an annual report's
//! unruled statements among them) carry no table structure at all.

use super::Block;

/// One character as drawn: its left edge, baseline (from the top of the page), advance and
/// font size, all in points.
#[derive(Debug, Clone, PartialEq)]
pub struct Glyph {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub size: f64,
    pub text: String,
}

/// A run of text on one line with no wide gap in it: a phrase of prose, or a table's cell.
#[derive(Debug, Clone, PartialEq)]
struct Segment {
    x0: f64,
    x1: f64,
    text: String,
}

#[derive(Debug, Clone)]
struct Line {
    y: f64,
    size: f64,
    segments: Vec<Segment>,
    /// Each glyph's extent: columns set close together (TeX's 10 points) are closer than a
    /// table's cells, so a page's gutter is looked for between glyphs, not segments.
    spans: Vec<(f64, f64)>,
}

impl Line {
    fn text(&self) -> String {
        self.segments.iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join(" ")
    }
}

/// A gap wider than this many font sizes between two glyphs of a line separates cells (a word
/// space is about a quarter of one; justified prose stretches it well under one).
const CELL_GAP: f64 = 1.0;
/// A gap wider than this separates words.
const WORD_GAP: f64 = 0.12;

/// The page's blocks in reading order.
pub fn page_blocks(glyphs: Vec<Glyph>, page_width: f64) -> Vec<Block> {
    let glyphs: Vec<Glyph> = glyphs.into_iter().filter(|g| !g.text.trim().is_empty() && g.size > 0.0).collect();
    if glyphs.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let lines = lines_of(&glyphs);
    match gutter(&lines, page_width) {
        None => blocks_of(lines, &mut out),
        Some(x) => {
            // Text crossing the gutter (a title over both columns) is read with the left
            // column, which comes first.
            let (left, right): (Vec<Glyph>, Vec<Glyph>) = glyphs.into_iter().partition(|g| g.x < x);
            blocks_of(lines_of(&left), &mut out);
            blocks_of(lines_of(&right), &mut out);
        }
    }
    out
}

/// Glyphs into lines: the same baseline (within a third of the font size), left to right.
fn lines_of(glyphs: &[Glyph]) -> Vec<Line> {
    let mut glyphs: Vec<&Glyph> = glyphs.iter().collect();
    glyphs.sort_by(|a, b| a.y.total_cmp(&b.y).then(a.x.total_cmp(&b.x)));
    let mut rows: Vec<Vec<&Glyph>> = Vec::new();
    for g in glyphs {
        match rows.last_mut() {
            Some(row) if (g.y - row[0].y).abs() <= row[0].size.max(g.size) * 0.35 => row.push(g),
            _ => rows.push(vec![g]),
        }
    }
    rows.into_iter()
        .map(|mut row| {
            row.sort_by(|a, b| a.x.total_cmp(&b.x));
            let size = median(row.iter().map(|g| g.size).collect());
            let y = row[0].y;
            let spans = row.iter().map(|g| (g.x, g.x + g.width)).collect();
            let mut segments: Vec<Segment> = Vec::new();
            let mut end = f64::NEG_INFINITY;
            for g in row {
                let gap = g.x - end;
                match segments.last_mut() {
                    Some(s) if gap < CELL_GAP * size => {
                        if gap > WORD_GAP * size && !s.text.ends_with(' ') {
                            s.text.push(' ');
                        }
                        s.text.push_str(&g.text);
                        s.x1 = s.x1.max(g.x + g.width);
                    }
                    _ => segments.push(Segment { x0: g.x, x1: g.x + g.width, text: g.text.clone() }),
                }
                end = end.max(g.x + g.width);
            }
            Line { y, size, segments, spans }
        })
        .collect()
}

/// Where a page set in two columns splits, so that it is read one column after the other: a
/// vertical strip free of text down most of the page, near its middle.
fn gutter(lines: &[Line], page_width: f64) -> Option<f64> {
    // The strip searched is a point wide per slot: a page box the file made up (huge, NaN,
    // infinite) must not size it.
    if lines.len() < 8 || !(page_width > 0.0 && page_width <= super::limits::MAX_PAGE_POINTS) {
        return None;
    }
    // How many lines have text at each point (1 pt apart) between a third and two thirds of
    // the width: each line marks the points its glyphs cover (a point a glyph's edge is within
    // 1 pt of counts as covered).
    let (from, to) = (page_width / 3.0, page_width * 2.0 / 3.0);
    let n = (to - from).max(0.0) as usize;
    let mut crossing = vec![0usize; n];
    let mut mine = vec![false; n];
    for l in lines {
        mine.iter_mut().for_each(|m| *m = false);
        for &(a, b) in &l.spans {
            // Points x with a - 1 < x < b + 1, as indices from `from`.
            let lo = ((a - 1.0 - from).floor() + 1.0).max(0.0) as usize;
            let hi = ((b + 1.0 - from).ceil() - 1.0).min(n as f64 - 1.0);
            if hi < 0.0 {
                continue;
            }
            for m in mine.iter_mut().take(hi as usize + 1).skip(lo) {
                *m = true;
            }
        }
        for (c, m) in crossing.iter_mut().zip(&mine) {
            *c += usize::from(*m);
        }
    }
    let counts: Vec<(f64, usize)> = crossing.into_iter().enumerate().map(|(i, c)| (from + i as f64, c)).collect();
    // A page number or a title may cross the gutter: a few lines are allowed to.
    let allowed = counts.iter().map(|c| c.1).min().unwrap_or(usize::MAX).saturating_add((lines.len() / 20).max(1));
    let mut best: Option<(f64, usize)> = None;
    let mut widest = 0.0;
    let mut i = 0;
    while i < counts.len() {
        if counts[i].1 > allowed {
            i += 1;
            continue;
        }
        let mut j = i;
        while j + 1 < counts.len() && counts[j + 1].1 <= allowed {
            j += 1;
        }
        let width = counts[j].0 - counts[i].0;
        if width > widest {
            widest = width;
            let most = counts[i..=j].iter().map(|c| c.1).max().unwrap_or(0);
            best = Some(((counts[i].0 + counts[j].0) / 2.0, most));
        }
        i = j + 1;
    }
    let (gutter, crossing) = best.filter(|_| widest >= 4.0)?;
    // Both sides must hold prose down most of the page (wide, not a column of figures), and
    // almost no line may cross.
    let side = |left: bool| -> Vec<f64> {
        lines
            .iter()
            .filter_map(|l| {
                let mine: Vec<&(f64, f64)> = l.spans.iter().filter(|s| if left { s.1 <= gutter } else { s.0 >= gutter }).collect();
                let lo = mine.iter().map(|s| s.0).fold(f64::INFINITY, f64::min);
                let hi = mine.iter().map(|s| s.1).fold(f64::NEG_INFINITY, f64::max);
                (!mine.is_empty()).then_some(hi - lo)
            })
            .collect()
    };
    let (left, right) = (side(true), side(false));
    let wide = |w: &Vec<f64>| w.len() * 2 >= lines.len() && median(w.clone()) >= page_width * 0.28;
    // A statement's columns of figures leave gutters too: a page with many lines of three
    // cells or more is a table, not two columns of prose.
    let tabular = lines.iter().filter(|l| l.segments.len() >= 3).count();
    let prose = crossing * 10 <= lines.len() && wide(&left) && wide(&right) && tabular * 4 <= lines.len();
    prose.then_some(gutter)
}

/// Lines into headings, paragraphs and tables.
fn blocks_of(lines: Vec<Line>, out: &mut Vec<Block>) {
    if lines.is_empty() {
        return;
    }
    let body = median(lines.iter().map(|l| l.size).collect());
    let mut i = 0;
    let mut paragraph: Vec<String> = Vec::new();
    let mut last_y: Option<f64> = None;
    let flush = |paragraph: &mut Vec<String>, out: &mut Vec<Block>| {
        if !paragraph.is_empty() {
            out.push(Block::Paragraph { text: join_lines(paragraph) });
            paragraph.clear();
        }
    };
    while i < lines.len() {
        if let Some(end) = table_run(&lines, i) {
            flush(&mut paragraph, out);
            out.push(Block::Table { label: None, rows: table_rows(&lines[i..end]) });
            last_y = Some(lines[end - 1].y);
            i = end;
            continue;
        }
        let line = &lines[i];
        let text = line.text();
        let gap = last_y.map(|y| line.y - y).unwrap_or(0.0);
        if line.size >= body * 1.15 && text.chars().count() <= 120 {
            flush(&mut paragraph, out);
            let level = if line.size >= body * 1.6 { 1 } else { 2 };
            // A heading set on two lines is one heading.
            match out.last_mut() {
                Some(Block::Heading { level: l, text: t }) if *l == level && gap < line.size * 1.6 && paragraph.is_empty() => {
                    t.push(' ');
                    t.push_str(&text);
                }
                _ => out.push(Block::Heading { level, text }),
            }
        } else {
            if gap > line.size * 1.8 || out.last().is_some_and(|b| matches!(b, Block::Heading { .. })) && paragraph.is_empty() {
                flush(&mut paragraph, out);
            }
            paragraph.push(text);
        }
        last_y = Some(line.y);
        i += 1;
    }
    flush(&mut paragraph, out);
}

/// Prose lines joined; a word hyphenated over a line break is joined again.
fn join_lines(lines: &[String]) -> String {
    let mut out = String::new();
    for l in lines {
        if out.ends_with('-') && l.chars().next().is_some_and(char::is_lowercase) {
            out.pop();
        } else if !out.is_empty() && !ends_cjk(&out) {
            out.push(' ');
        }
        out.push_str(l);
    }
    out
}

fn ends_cjk(s: &str) -> bool {
    s.chars().last().is_some_and(|c| matches!(c as u32, 0x3000..=0x9FFF | 0xFF00..=0xFFEF))
}

/// Where a table starting at `start` ends: at least two lines in a row with two or more cells
/// whose columns line up, allowing lines of the first column alone between them (a section's
/// name, "Operating expenses:", or a label wrapped over two or three lines), until the rows
/// stop or a wide vertical gap.
fn table_run(lines: &[Line], start: usize) -> Option<usize> {
    let multi = |l: &Line| l.segments.len() >= 2;
    if !multi(&lines[start]) {
        return None;
    }
    let mut end = start + 1;
    let mut rows = 1;
    let mut pitch: Option<f64> = None;
    'rows: while end < lines.len() {
        let gap = lines[end].y - lines[end - 1].y;
        let limit = pitch.map(|p| p * 2.2).unwrap_or(lines[end].size * 3.0);
        if gap > limit {
            break;
        }
        if multi(&lines[end]) {
            if !columns_agree(&lines[start..end], &lines[end]) {
                break;
            }
            rows += 1;
            pitch = Some(pitch.map_or(gap, |p: f64| p.max(gap)));
            end += 1;
            continue;
        }
        // Up to three first-column lines, then a row of the table again.
        let first_end = first_column_end(&lines[start..end]);
        // `end` moves only as the loop is left for the next row (`continue 'rows`).
        #[allow(clippy::mut_range_bound)]
        for k in end..(end + 3).min(lines.len()) {
            if lines[k].segments[0].x0 > first_end || lines[k].y - lines[k - 1].y > limit {
                break 'rows;
            }
            if k + 1 < lines.len() && multi(&lines[k + 1]) && lines[k + 1].y - lines[k].y <= limit {
                end = k + 1;
                continue 'rows;
            }
        }
        break;
    }
    // Lines of the first column alone at the end are prose after the table.
    while end > start + 1 && !multi(&lines[end - 1]) {
        end -= 1;
    }
    (rows >= 2).then_some(end)
}

fn first_column_end(lines: &[Line]) -> f64 {
    lines.iter().filter(|l| l.segments.len() >= 2).map(|l| l.segments[0].x1).fold(f64::NEG_INFINITY, f64::max).max(lines[0].segments[0].x1)
}

/// A line continues a table when most of its cells stand under a cell of the rows above (a
/// number right-aligned under its column's header overlaps it).
fn columns_agree(above: &[Line], line: &Line) -> bool {
    let spans: Vec<(f64, f64)> = above.iter().flat_map(|l| l.segments.iter().map(|s| (s.x0, s.x1))).collect();
    let tol = line.size;
    let under = line.segments.iter().filter(|s| spans.iter().any(|&(a, b)| s.x0 < b + tol && s.x1 > a - tol)).count();
    under * 3 >= line.segments.len() * 2
}

/// The run's columns are the spans where some row has text, merged where they overlap; the
/// rows with the most cells set them (a header spanning two columns does not merge them).
fn table_rows(lines: &[Line]) -> Vec<Vec<String>> {
    let most = lines.iter().map(|l| l.segments.len()).max().unwrap_or(0);
    let mut spans: Vec<(f64, f64)> = Vec::new();
    for l in lines.iter().filter(|l| l.segments.len() * 4 >= most * 3) {
        for s in &l.segments {
            spans.push((s.x0, s.x1));
        }
    }
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut columns: Vec<(f64, f64)> = Vec::new();
    for (a, b) in spans {
        match columns.last_mut() {
            Some(c) if a <= c.1 => c.1 = c.1.max(b),
            _ => columns.push((a, b)),
        }
    }
    let column_of = |s: &Segment| -> usize {
        let overlap = |c: &(f64, f64)| (s.x1.min(c.1) - s.x0.max(c.0)).max(0.0);
        let best = columns.iter().enumerate().max_by(|a, b| overlap(a.1).total_cmp(&overlap(b.1)));
        match best {
            Some((i, c)) if overlap(c) > 0.0 => i,
            // Between columns: the nearest by centre.
            _ => {
                let mid = (s.x0 + s.x1) / 2.0;
                columns
                    .iter()
                    .enumerate()
                    .min_by(|a, b| ((a.1 .0 + a.1 .1) / 2.0 - mid).abs().total_cmp(&((b.1 .0 + b.1 .1) / 2.0 - mid).abs()))
                    .map(|(i, _)| i)
                    .unwrap_or(0)
            }
        }
    };
    // Rows stand further apart than the lines of a label wrapped inside its cell: a line
    // closer than that to the one above, or in the first column alone and starting in lower
    // case, continues the row above.
    let mut row_gaps: Vec<f64> = lines.windows(2).filter(|w| w[1].segments.len() >= 2).map(|w| w[1].y - w[0].y).collect();
    row_gaps.sort_by(f64::total_cmp);
    let row_pitch = row_gaps.get(row_gaps.len() / 2).copied().unwrap_or(0.0);
    let first_x1 = |i: usize| lines[i].segments.iter().filter(|s| column_of(s) == 0).map(|s| s.x1).fold(f64::NEG_INFINITY, f64::max);
    let widest_first = (0..lines.len()).map(first_x1).fold(f64::NEG_INFINITY, f64::max);
    let mut rows: Vec<Vec<String>> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let gap = if i == 0 { f64::INFINITY } else { l.y - lines[i - 1].y };
        let alone = l.segments.len() == 1 && column_of(&l.segments[0]) == 0;
        let first = l.segments[0].text.trim();
        let lower = first.chars().next().is_some_and(char::is_lowercase);
        // Chinese has no lower case: a label that filled its cell's width and goes on alone
        // in the next line is wrapped (a section's name ends with a colon).
        let filled = rows.last().is_some_and(|r| ends_cjk(&r[0]) && first_x1(i - 1) >= widest_first - l.size * 1.5);
        let cjk_wrap = alone && filled && !first.ends_with(['：', ':']) && first.chars().next().is_some_and(|c| c as u32 >= 0x3000);
        let continues = i > 0 && (gap < row_pitch * 0.8 || alone && (lower || cjk_wrap));
        if !continues {
            rows.push(vec![String::new(); columns.len()]);
        }
        let Some(row) = rows.last_mut() else { continue };
        for s in &l.segments {
            let cell = &mut row[column_of(s)];
            if !cell.is_empty() && (!ends_cjk(cell) || !continues) {
                cell.push(' ');
            }
            cell.push_str(&s.text);
        }
    }
    rows
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text set at (x, y) in a 10-point font, 5 points a character.
    fn put(out: &mut Vec<Glyph>, x: f64, y: f64, text: &str) {
        for (i, c) in text.chars().enumerate() {
            out.push(Glyph { x: x + 5.0 * i as f64, y, width: 5.0, size: 10.0, text: c.to_string() });
        }
    }

    #[test]
    fn an_unruled_statement_comes_out_as_a_table_with_its_columns() {
        let mut g = Vec::new();
        put(&mut g, 50.0, 100.0, "Consolidated statement of income");
        put(&mut g, 300.0, 130.0, "2024");
        put(&mut g, 400.0, 130.0, "2023");
        put(&mut g, 50.0, 145.0, "Revenue");
        put(&mut g, 285.0, 145.0, "12,500");
        put(&mut g, 385.0, 145.0, "11,200");
        put(&mut g, 50.0, 160.0, "Operating expenses:");
        put(&mut g, 60.0, 175.0, "Cost of revenue");
        put(&mut g, 290.0, 175.0, "(7,100)");
        put(&mut g, 390.0, 175.0, "(6,650)");
        put(&mut g, 50.0, 190.0, "Operating margin");
        put(&mut g, 295.0, 190.0, "12.5%");
        put(&mut g, 395.0, 190.0, "10.9%");
        let blocks = page_blocks(g, 600.0);
        assert_eq!(blocks[0], Block::Paragraph { text: "Consolidated statement of income".into() });
        let Block::Table { rows, .. } = &blocks[1] else { panic!("{blocks:?}") };
        let want: Vec<Vec<&str>> = vec![
            vec!["", "2024", "2023"],
            vec!["Revenue", "12,500", "11,200"],
            vec!["Operating expenses:", "", ""],
            vec!["Cost of revenue", "(7,100)", "(6,650)"],
            vec!["Operating margin", "12.5%", "10.9%"],
        ];
        assert_eq!(rows, &want.iter().map(|r| r.iter().map(|c| c.to_string()).collect::<Vec<_>>()).collect::<Vec<_>>());
    }

    /// A page box is whatever the file says: a width of 10^12 points once sized the gutter
    /// search's vectors (terabytes), an infinite one asked for `usize::MAX` of them.
    #[test]
    fn a_page_box_the_file_made_up_sizes_nothing() {
        for width in [1e12, f64::INFINITY, f64::NAN, -5.0, 0.0] {
            let mut g = Vec::new();
            for i in 0..12 {
                put(&mut g, 40.0, 100.0 + 14.0 * f64::from(i), &format!("line {i:02} of the text"));
            }
            let blocks = page_blocks(g, width);
            assert!(matches!(&blocks[0], Block::Paragraph { text } if text.starts_with("line 00")), "{width}: {blocks:?}");
        }
    }

    #[test]
    fn two_columns_of_prose_are_read_one_after_the_other() {
        let mut g = Vec::new();
        for i in 0..12 {
            let y = 100.0 + 14.0 * f64::from(i);
            put(&mut g, 40.0, y, &format!("left line {i:02} of the running text here"));
            put(&mut g, 320.0, y, &format!("right line {i:02} of the running text set"));
        }
        let blocks = page_blocks(g, 600.0);
        let text: Vec<String> = blocks.iter().filter_map(|b| if let Block::Paragraph { text } = b { Some(text.clone()) } else { None }).collect();
        let all = text.join("\n");
        let last_left = all.find("left line 11").expect(&all);
        let first_right = all.find("right line 00").expect(&all);
        assert!(last_left < first_right, "{all}");
    }

    #[test]
    fn words_split_by_spacing_and_headings_by_size() {
        let mut g = Vec::new();
        for (i, c) in "Risk".chars().enumerate() {
            g.push(Glyph { x: 40.0 + 9.0 * i as f64, y: 60.0, width: 9.0, size: 18.0, text: c.to_string() });
        }
        put(&mut g, 40.0, 90.0, "Credit");
        put(&mut g, 72.0, 90.0, "risk is high.");
        put(&mut g, 40.0, 102.0, "It is watched.");
        let blocks = page_blocks(g, 600.0);
        assert_eq!(blocks, vec![Block::Heading { level: 1, text: "Risk".into() }, Block::Paragraph { text: "Credit risk is high. It is watched.".into() }]);
    }
}
