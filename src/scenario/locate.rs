//! Source positions of YAML nodes, by path (`flows.0.steps.1.get`), so that checks made after
//! deserialisation (cross references, reachability) can still point at `file:line:column`.

use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// Positions of every mapping key and every value in a document.
#[derive(Debug, Default)]
pub struct Locations {
    keys: HashMap<String, Pos>,
    values: HashMap<String, Pos>,
}

impl Locations {
    /// Index a YAML text. A text that does not parse yields an empty index (the deserializer
    /// reports the syntax error with its own position).
    pub fn index(text: &str) -> Self {
        let mut rx = Receiver::default();
        let mut parser = Parser::new_from_str(text);
        let _ = parser.load(&mut rx, false);
        rx.out
    }

    /// Position of the key at `path` (for `a.b`, where `b:` is written), else of its value.
    pub fn key(&self, path: &str) -> Option<Pos> {
        self.keys
            .get(path)
            .or_else(|| self.values.get(path))
            .copied()
    }

    /// Position of the value at `path`, else of its key.
    pub fn value(&self, path: &str) -> Option<Pos> {
        self.values
            .get(path)
            .or_else(|| self.keys.get(path))
            .copied()
    }
}

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, index: usize },
}

#[derive(Default)]
struct Receiver {
    stack: Vec<Frame>,
    out: Locations,
}

fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_string()
    } else {
        format!("{parent}.{child}")
    }
}

fn pos(mark: Marker) -> Pos {
    Pos {
        line: mark.line(),
        col: mark.col() + 1,
    }
}

impl Receiver {
    /// Where the next node goes: `Some(path)` for a value, `None` when it is a mapping key
    /// (the key's text is recorded by the caller).
    fn value_path(&mut self) -> Option<String> {
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Map { key: None, .. }) => None,
            Some(Frame::Map { path, key }) => {
                let k = key.take().unwrap_or_default();
                Some(join(path, &k))
            }
            Some(Frame::Seq { path, index }) => {
                let p = join(path, &index.to_string());
                *index += 1;
                Some(p)
            }
        }
    }
}

impl MarkedEventReceiver for Receiver {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(text, ..) => match self.value_path() {
                Some(p) => {
                    self.out.values.insert(p, pos(mark));
                }
                None => {
                    if let Some(Frame::Map { path, key }) = self.stack.last_mut() {
                        self.out.keys.insert(join(path, &text), pos(mark));
                        *key = Some(text);
                    }
                }
            },
            Event::Alias(_) => {
                if let Some(p) = self.value_path() {
                    self.out.values.insert(p, pos(mark));
                } else if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
                    *key = Some(String::from("*alias"));
                }
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let is_map = matches!(ev, Event::MappingStart(..));
                let path = match self.value_path() {
                    Some(p) => p,
                    None => {
                        // A complex (non-scalar) key: index it under a placeholder name.
                        if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
                            *key = Some(String::from("?complex"));
                        }
                        String::from("?complex")
                    }
                };
                self.out.values.insert(path.clone(), pos(mark));
                self.stack.push(if is_map {
                    Frame::Map { path, key: None }
                } else {
                    Frame::Seq { path, index: 0 }
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_and_values_in_block_and_flow_style() {
        let text = "name: x\nload:\n  vus: 10\nflows:\n  - name: a\n    steps:\n      - { get: /fast, name: s1 }\n";
        let loc = Locations::index(text);
        assert_eq!(loc.key("name"), Some(Pos { line: 1, col: 1 }));
        assert_eq!(loc.key("load.vus"), Some(Pos { line: 3, col: 3 }));
        assert_eq!(loc.value("load.vus"), Some(Pos { line: 3, col: 8 }));
        assert_eq!(loc.key("flows.0.name"), Some(Pos { line: 5, col: 5 }));
        assert_eq!(
            loc.value("flows.0.steps.0.get"),
            Some(Pos { line: 7, col: 16 })
        );
        assert_eq!(
            loc.key("flows.0.steps.0.name"),
            Some(Pos { line: 7, col: 23 })
        );
        assert_eq!(loc.key("nope"), None);
    }

    #[test]
    fn broken_yaml_gives_an_index_without_panicking() {
        let loc = Locations::index("a: [1, 2\nb: {");
        assert_eq!(loc.key("zzz"), None);
    }
}
