//! The front door of scenario loading: what a file must be before it is read as a scenario
//! (its size, UTF-8, one YAML document, a bounded nesting depth, no alias bomb), each problem
//! located; and the collection of every problem of a file in one pass (see `collect`).

use super::ScenarioError;
use super::limits::{MAX_DEPTH, MAX_FILE_BYTES};
use super::locate::{Locations, Pos};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use yaml_rust2::parser::{Event, Parser};

/// The most nodes anchors and aliases may expand to (a "billion laughs" file is refused).
pub const MAX_EXPANDED_NODES: u64 = 200_000;
/// The most problems reported for one file.
pub const MAX_PROBLEMS: usize = 20;

fn at(file: &str, line: usize, col: usize, message: impl std::fmt::Display) -> ScenarioError {
    ScenarioError {
        file: file.to_string(),
        pos: Some(Pos { line, col }),
        message: message.to_string(),
    }
}

/// Read a scenario file: at most `MAX_FILE_BYTES`, UTF-8 (the first bad byte located), a
/// leading byte-order mark dropped.
pub fn read(path: &Path) -> Result<String, ScenarioError> {
    let file = path.display().to_string();
    let unreadable = |e: std::io::Error| ScenarioError {
        file: file.clone(),
        pos: None,
        message: format!("cannot read scenario: {e}"),
    };
    let f = std::fs::File::open(path).map_err(unreadable)?;
    if f.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(ScenarioError {
            file: file.clone(),
            pos: None,
            message: "cannot read scenario: this is a folder, not a file".into(),
        });
    }
    let mut bytes = Vec::new();
    f.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(at(
            &file,
            1,
            1,
            format!(
                "the file is larger than {} MiB, the most a scenario may be (put data in a CSV `data:` feed)",
                MAX_FILE_BYTES / (1024 * 1024)
            ),
        ));
    }
    decode(bytes, &file)
}

/// Bytes → text, the first invalid UTF-8 byte located; a byte-order mark is dropped.
pub fn decode(bytes: Vec<u8>, file: &str) -> Result<String, ScenarioError> {
    match String::from_utf8(bytes) {
        Ok(s) => Ok(match s.strip_prefix('\u{feff}') {
            Some(rest) => rest.to_string(),
            None => s,
        }),
        Err(e) => {
            let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = good.iter().filter(|b| **b == b'\n').count() + 1;
            let line_start = good.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            let col = String::from_utf8_lossy(&good[line_start..]).chars().count() + 1;
            Err(at(
                file,
                line,
                col,
                "this byte is not UTF-8: save the scenario as UTF-8 text",
            ))
        }
    }
}

/// One pass over the YAML events before anything is built: syntax errors, a second document,
/// nesting deeper than `MAX_DEPTH` and aliases expanding past `MAX_EXPANDED_NODES`, each at
/// its line and column. Linear in the file's size, and stops at the first problem.
pub fn prescan(text: &str, file: &str) -> Result<(), ScenarioError> {
    let mut parser = Parser::new_from_str(text);
    let mut depth = 0usize;
    let mut documents = 0usize;
    // Nodes seen so far, aliases counted as the nodes they stand for.
    let mut total: u64 = 0;
    // Open collections: (anchor id, total at their start).
    let mut open: Vec<(usize, u64)> = Vec::new();
    let mut sizes: HashMap<usize, u64> = HashMap::new();
    loop {
        let (ev, mark) = match parser.next_token() {
            Ok(x) => x,
            Err(e) => {
                let m = e.marker();
                return Err(at(
                    file,
                    m.line().max(1),
                    m.col() + 1,
                    syntax_words(e.info()),
                ));
            }
        };
        let (line, col) = (mark.line().max(1), mark.col() + 1);
        match ev {
            Event::StreamEnd => return Ok(()),
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(at(
                        file,
                        line,
                        col,
                        "a second YAML document starts here: a scenario file holds one document (remove the `---` and what follows, or put it in its own file)",
                    ));
                }
            }
            Event::MappingStart(anchor, _) | Event::SequenceStart(anchor, _) => {
                depth += 1;
                total += 1;
                if depth > MAX_DEPTH {
                    return Err(at(
                        file,
                        line,
                        col,
                        format!(
                            "nested more than {MAX_DEPTH} levels deep: a scenario never needs that many"
                        ),
                    ));
                }
                open.push((anchor, total));
            }
            Event::MappingEnd | Event::SequenceEnd => {
                depth = depth.saturating_sub(1);
                if let Some((anchor, start)) = open.pop()
                    && anchor != 0
                {
                    sizes.insert(anchor, total - start + 1);
                }
            }
            Event::Scalar(_, _, anchor, _) => {
                total += 1;
                if anchor != 0 {
                    sizes.insert(anchor, 1);
                }
            }
            Event::Alias(id) => {
                total = total.saturating_add(sizes.get(&id).copied().unwrap_or(1));
                if total > MAX_EXPANDED_NODES {
                    return Err(at(
                        file,
                        line,
                        col,
                        format!(
                            "the aliases (`*name`) expand this file to more than {MAX_EXPANDED_NODES} values: refusing an alias bomb"
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
}

/// The YAML scanner's words, for people.
fn syntax_words(info: &str) -> String {
    if info.contains("quoted scalar") {
        return "a quoted string is not closed (a `\"` or `'` is missing)".into();
    }
    if info.contains("recursion limit") {
        return format!(
            "nested more than {MAX_DEPTH} levels deep: a scenario never needs that many"
        );
    }
    if info.contains("mapping values are not allowed") {
        return "a `key: value` where none may be (a missing space or indentation, or a `:` to quote)".into();
    }
    format!("not valid YAML: {info}")
}

/// Turn serde's words into the user's: no Rust type names.
pub fn user_words(message: &str) -> String {
    let mut m = message.to_string();
    if let Some(i) = m.find(" at line ") {
        m.truncate(i);
    }
    if m.starts_with("data did not match any variant of untagged enum OneOrMany") {
        return "expected one value or a list of values of the documented kind".into();
    }
    if m.starts_with("data did not match any variant of untagged enum") {
        return "this value has none of the accepted forms (see docs/scenarios.md)".into();
    }
    for (rust, user) in [
        (
            "struct RawScenario",
            "a scenario (a mapping with target, load, flows...)",
        ),
        (
            "struct RawStep",
            "a step (a mapping such as `{ get: /path }`)",
        ),
        ("struct RawFlow", "a flow (a mapping with `steps:`)"),
        (
            "struct RawLoad",
            "a load (a mapping such as `{ vus: 10, duration: 30s }`)",
        ),
        (
            "struct RawStage",
            "a stage (a mapping such as `{ duration: 30s, target: 10 }`)",
        ),
        ("struct RawHttp", "http options (a mapping)"),
        (
            "struct RawExpect",
            "an expectation (a mapping such as `{ status: 200 }`)",
        ),
        (
            "struct RawPart",
            "a scenario part (a mapping with load and flows)",
        ),
        ("struct RawCapacity", "a capacity block (a mapping)"),
        (
            "struct RawAuth",
            "auth (a mapping such as `{ bearer: TOKEN }`)",
        ),
        (
            "struct RawBasic",
            "basic auth (a mapping with user and password)",
        ),
        ("struct RawExtract", "an extraction (a mapping)"),
        ("struct RawFeed", "a data feed (a mapping with `file:`)"),
        ("struct RawTls", "TLS options (a mapping)"),
        ("unit value", "nothing"),
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        ),
        ("expected u64", "expected a whole number of 0 or more"),
        ("expected u16", "expected a whole number from 0 to 65535"),
        ("expected usize", "expected a whole number of 0 or more"),
        ("expected f64", "expected a number"),
        ("expected i64", "expected a whole number"),
        ("expected a string", "expected text"),
    ] {
        m = m.replace(rust, user);
    }
    // Any other Rust name left (`struct Foo`, `enum Bar`): say "a mapping" / "one of the values".
    while let Some(i) = m.find("struct ") {
        let end = m[i + 7..]
            .find(|c: char| !c.is_alphanumeric() && c != '_')
            .map_or(m.len(), |j| i + 7 + j);
        m.replace_range(i..end, "a mapping");
    }
    m
}

/// Where a problem was found, as a dotted path (`flows.0.steps.1.get`).
pub fn dotted(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        let s = match seg {
            Segment::Seq { index } => index.to_string(),
            Segment::Map { key } => key.clone(),
            Segment::Enum { variant } => variant.clone(),
            Segment::Unknown => continue,
        };
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(&s);
    }
    out
}

/// The position of `path`, else of its nearest located ancestor, else 1:1.
pub fn pos_of(loc: &Locations, path: &str, key: bool) -> Pos {
    let mut p = path.to_string();
    loop {
        let found = if key { loc.key(&p) } else { loc.value(&p) };
        if let Some(found) = found {
            return found;
        }
        match p.rfind('.') {
            Some(i) => p.truncate(i),
            None => {
                return loc.value("").unwrap_or(Pos { line: 1, col: 1 });
            }
        }
    }
}

/// Values tried in place of a wrong one, so the problems after it can be found too.
pub const STAND_INS: &[&str] = &["1s", "1", "/", "http://127.0.0.1:1", "true", "avg < 1"];

/// Replace the node at `path` by the YAML value `with`. False when there is no such node.
pub fn replace(value: &mut serde_yaml_ng::Value, path: &str, with: &str) -> bool {
    let Ok(new) = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(with) else {
        return false;
    };
    let mut node = value;
    if !path.is_empty() {
        for seg in path.split('.') {
            let next = match node {
                serde_yaml_ng::Value::Mapping(m) => m.get_mut(seg),
                serde_yaml_ng::Value::Sequence(s) => {
                    seg.parse::<usize>().ok().and_then(|i| s.get_mut(i))
                }
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => return false,
            }
        }
    }
    if *node == new {
        return false;
    }
    *node = new;
    true
}

/// Remove the node at `path` from `value` so the next pass goes past it: a mapping key is
/// removed, a list item becomes null (removing it would renumber its followers). Returns
/// false when there is nothing to remove (the root).
pub fn remove(value: &mut serde_yaml_ng::Value, path: &str) -> bool {
    use serde_yaml_ng::Value;
    if path.is_empty() {
        return false;
    }
    let (parent, last) = match path.rfind('.') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    };
    let mut node = value;
    if !parent.is_empty() {
        for seg in parent.split('.') {
            let next = match node {
                Value::Mapping(m) => m.get_mut(seg),
                Value::Sequence(s) => seg.parse::<usize>().ok().and_then(|i| s.get_mut(i)),
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => return false,
            }
        }
    }
    match node {
        Value::Mapping(m) => m.remove(last).is_some(),
        Value::Sequence(s) => match last.parse::<usize>().ok().and_then(|i| s.get_mut(i)) {
            Some(item) if !item.is_null() => {
                *item = Value::Null;
                true
            }
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prescan_locates_what_it_refuses() {
        let deep = format!("a: {}1{}\n", "[".repeat(100), "]".repeat(100));
        let e = prescan(&deep, "f").unwrap_err();
        assert!(e.message.contains("nested"), "{e}");
        let e = prescan("a: 1\n---\nb: 2\n", "f").unwrap_err();
        assert_eq!(e.pos, Some(Pos { line: 2, col: 1 }), "{e}");
        let e = prescan("name: \"open\nload: 1\n", "f").unwrap_err();
        assert!(e.message.contains("quoted string"), "{e}");
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..8 {
            let p = (b'a' + i) as char;
            let n = (b'a' + i + 1) as char;
            bomb.push_str(&format!(
                "{n}: &{n} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
            ));
        }
        let e = prescan(&bomb, "f").unwrap_err();
        assert!(e.message.contains("alias bomb"), "{e}");
        prescan("a: &x {b: 1}\nc: *x\n", "f").unwrap();
    }

    #[test]
    fn non_utf8_and_bom() {
        let e = decode(b"name: ok\nx: \xff\n".to_vec(), "f").unwrap_err();
        assert_eq!(e.pos, Some(Pos { line: 2, col: 4 }));
        assert_eq!(decode(b"\xef\xbb\xbfa: 1".to_vec(), "f").unwrap(), "a: 1");
    }

    #[test]
    fn no_rust_names_in_messages() {
        let m = user_words("invalid type: string \"x\", expected struct RawStep at line 3");
        assert_eq!(
            m,
            "invalid type: string \"x\", expected a step (a mapping such as `{ get: /path }`)"
        );
        assert!(
            !user_words("data did not match any variant of untagged enum OneOrMany")
                .contains("OneOrMany")
        );
    }
}
