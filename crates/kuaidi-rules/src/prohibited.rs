//! Prohibited items: the official catalogue (禁止寄递物品指导目录, annex of 《禁止寄递物品管理规定》, State Post Bureau,
//! Ministry of Public Security and Ministry of State Security, 2016) as data, and the screening of a waybill's
//! declared contents against it.
//!
//! The catalogue ships in `prohibited/catalogue.toml`, with its source and the reasons for every synonym and every
//! safe phrase. Screening works on Chinese text without splitting it into words:
//!
//! 1. Both the declared category and the description are normalised ([`normalise`]): full-width forms become
//!    half-width (`ＡＢ１` → `ab1`, `（` → `(`), ASCII letters lower case, and whitespace, zero-width characters and
//!    middle dots are dropped, so `锂 电 池` and `锂·电池` read as `锂电池`.
//! 2. One Aho–Corasick automaton finds every occurrence, overlapping ones included, of every category name, catalogue
//!    term, synonym and safe phrase in one pass.
//! 3. A hit lying wholly inside an occurrence of a safe phrase is dropped (`手枪` inside `手枪钻`, `气枪` inside
//!    `喷气枪`). A pattern that begins or ends with an ASCII letter or digit must not touch another one there
//!    (`k粉` does not hit inside `tiktok粉丝`).
//! 4. What remains is one [`Hit`] per category and term, in the order found: the category, the term as the catalogue
//!    (or our synonym list) writes it, and the field it was found in.
//!
//! Screening is deliberately a first filter: it flags for a human, and the catalogue's catch-all section 19 (every
//! item of the 危险化学品目录 and other lists) cannot be screened by name at all.

use aho_corasick::{AhoCorasick, MatchKind};
use kuaidi_model::Contents;
use serde::Deserialize;

use crate::RulesError;

/// The catalogue as shipped.
const OFFICIAL: &str = include_str!("prohibited/catalogue.toml");

/// Where the catalogue was taken from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// 禁止寄递物品指导目录.
    pub title: String,
    /// The regulation it is the annex of.
    pub annex_of: String,
    /// The issuing authorities.
    pub issued_by: String,
    /// The document number.
    pub document: String,
    /// Year and month of issue.
    pub issued: String,
    /// How the text entered here was checked.
    pub checked_against: String,
}

/// One numbered item of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    /// Section and item number, such as `3.2`.
    pub code: String,
    /// The section's heading, such as `爆炸物品`.
    pub section: String,
    /// The item's name, such as `烟花爆竹`.
    pub name: String,
    /// Short forms of the section and item names, matched as text.
    pub names: Vec<String>,
    /// The catalogue's own examples.
    pub terms: Vec<String>,
    /// Common names the catalogue does not print.
    pub synonyms: Vec<String>,
    /// Harmless phrases that contain a name, term or synonym.
    pub safe: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    source: Source,
    category: Vec<Category>,
}

/// How a matched pattern is listed in the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TermKind {
    /// A short form of the category's name.
    CategoryName,
    /// One of the catalogue's own examples.
    Catalogue,
    /// A common name from our synonym list.
    Synonym,
}

impl TermKind {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            TermKind::CategoryName => "category_name",
            TermKind::Catalogue => "catalogue",
            TermKind::Synonym => "synonym",
        }
    }
}

/// Which part of the declared contents matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    /// `contents.category`.
    Category,
    /// `contents.description`.
    Description,
}

impl Field {
    /// The field's name on the waybill.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Category => "contents.category",
            Field::Description => "contents.description",
        }
    }
}

/// One prohibited-item hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit<'c> {
    /// The catalogue item.
    pub category: &'c Category,
    /// The term matched, as listed.
    pub term: &'c str,
    /// How the term is listed.
    pub kind: TermKind,
    /// Where it was found.
    pub field: Field,
}

/// What a distinct normalised pattern stands for: one or more listed terms (the same word may be listed under two
/// items, like 丙酮), or a safe phrase.
#[derive(Debug, Clone)]
enum Role {
    Term { category: usize, term: usize, kind: TermKind },
    Safe,
}

/// The catalogue, ready to screen.
#[derive(Debug, Clone)]
pub struct Catalogue {
    source: Source,
    categories: Vec<Category>,
    matcher: AhoCorasick,
    /// Per pattern of the automaton, what it stands for.
    roles: Vec<Vec<Role>>,
    /// Per pattern, whether it begins and whether it ends with an ASCII letter or digit.
    ascii_edges: Vec<(bool, bool)>,
}

/// Normalises text for matching: full-width forms to half-width, ASCII to lower case, and whitespace, zero-width
/// characters and middle dots removed.
pub fn normalise(text: &str) -> String {
    // Every mapping keeps a character's UTF-8 length or shortens it, so one allocation of the input's length holds
    // the result (collecting into an empty string grew it several times per text).
    let mut normalised = String::with_capacity(text.len());
    for c in text.chars() {
        let c = match c {
            '\u{3000}' => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        };
        let dropped = c.is_whitespace() || matches!(c, '\u{200B}'..='\u{200D}' | '\u{FEFF}' | '·' | '・');
        if !dropped {
            normalised.push(c.to_ascii_lowercase());
        }
    }
    normalised
}

impl Catalogue {
    /// The catalogue shipped with the crate.
    pub fn official() -> Result<Catalogue, RulesError> {
        Catalogue::from_toml(OFFICIAL)
    }

    /// Parses and checks a catalogue file in the format of `prohibited/catalogue.toml`.
    pub fn from_toml(text: &str) -> Result<Catalogue, RulesError> {
        let file: CatalogueFile =
            toml::from_str(text).map_err(|err| RulesError::Syntax { message: err.to_string() })?;
        let invalid = |field: String, value: &str, reason: &str| RulesError::InvalidConfig {
            field,
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        let mut patterns: Vec<String> = Vec::new();
        let mut roles: Vec<Vec<Role>> = Vec::new();
        let mut add = |pattern: String, role: Role| match patterns.iter().position(|p| *p == pattern) {
            Some(idx) => roles[idx].push(role),
            None => {
                patterns.push(pattern);
                roles.push(vec![role]);
            }
        };
        for (category_idx, category) in file.category.iter().enumerate() {
            let at = |list: &str, idx: usize| format!("category[{category_idx}].{list}[{idx}]");
            if file.category[..category_idx].iter().any(|c| c.code == category.code) {
                return Err(invalid(format!("category[{category_idx}].code"), &category.code, "is used twice"));
            }
            let lists = [
                ("names", &category.names, TermKind::CategoryName),
                ("terms", &category.terms, TermKind::Catalogue),
                ("synonyms", &category.synonyms, TermKind::Synonym),
            ];
            let mut own: Vec<String> = Vec::new();
            for (list, words, kind) in lists {
                for (term_idx, word) in words.iter().enumerate() {
                    let pattern = normalise(word);
                    if pattern.is_empty() {
                        return Err(invalid(at(list, term_idx), word, "is empty after normalising"));
                    }
                    own.push(pattern.clone());
                    add(pattern, Role::Term { category: category_idx, term: term_idx, kind });
                }
            }
            if own.is_empty() {
                return Err(invalid(
                    format!("category[{category_idx}].terms"),
                    "[]",
                    "needs at least one name or term",
                ));
            }
            for (safe_idx, phrase) in category.safe.iter().enumerate() {
                let pattern = normalise(phrase);
                if !own.iter().any(|word| pattern.contains(word.as_str())) {
                    return Err(invalid(
                        at("safe", safe_idx),
                        phrase,
                        "contains none of the item's names, terms or synonyms, so it can never excuse a hit",
                    ));
                }
                add(pattern, Role::Safe);
            }
        }
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&patterns)
            .map_err(|err| invalid("category".to_owned(), "", &format!("cannot be compiled: {err}")))?;
        let ascii_edges = patterns
            .iter()
            .map(|p| {
                let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
                (edge(p.chars().next()), edge(p.chars().last()))
            })
            .collect();
        Ok(Catalogue { source: file.source, categories: file.category, matcher, roles, ascii_edges })
    }

    /// Where the catalogue was taken from.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// The catalogue's items, in order.
    pub fn categories(&self) -> &[Category] {
        &self.categories
    }

    /// Screens declared contents: the category field first, then the description.
    pub fn screen(&self, contents: &Contents) -> Vec<Hit<'_>> {
        let mut hits = self.screen_text(&contents.category, Field::Category);
        for hit in self.screen_text(&contents.description, Field::Description) {
            if !hits.iter().any(|h| std::ptr::eq(h.category, hit.category) && h.term == hit.term) {
                hits.push(hit);
            }
        }
        hits
    }

    /// Screens one text, reporting hits as found in `field`.
    pub fn screen_text(&self, text: &str, field: Field) -> Vec<Hit<'_>> {
        let normalised = normalise(text);
        let bytes = normalised.as_bytes();
        let mut terms: Vec<(usize, usize, usize)> = Vec::new();
        let mut safe: Vec<(usize, usize)> = Vec::new();
        for found in self.matcher.find_overlapping_iter(&normalised) {
            let pattern = found.pattern().as_usize();
            let (starts_ascii, ends_ascii) = self.ascii_edges[pattern];
            let touches_before = starts_ascii && found.start() > 0 && bytes[found.start() - 1].is_ascii_alphanumeric();
            let touches_after = ends_ascii && bytes.get(found.end()).is_some_and(u8::is_ascii_alphanumeric);
            if touches_before || touches_after {
                continue;
            }
            if self.roles[pattern].iter().any(|role| matches!(role, Role::Safe)) {
                safe.push((found.start(), found.end()));
            }
            if self.roles[pattern].iter().any(|role| matches!(role, Role::Term { .. })) {
                terms.push((found.start(), found.end(), pattern));
            }
        }
        // In the order found; of hits starting together, the longer first.
        terms.sort_unstable_by_key(|&(start, end, pattern)| (start, std::cmp::Reverse(end), pattern));
        let mut hits: Vec<Hit<'_>> = Vec::new();
        for (start, end, pattern) in terms {
            if safe.iter().any(|&(s, e)| s <= start && end <= e) {
                continue;
            }
            for role in &self.roles[pattern] {
                let Role::Term { category, term, kind } = *role else { continue };
                let category = &self.categories[category];
                let term = term_text(category, kind, term);
                if !hits.iter().any(|h| std::ptr::eq(h.category, category) && h.term == term) {
                    hits.push(Hit { category, term, kind, field });
                }
            }
        }
        hits
    }
}

fn term_text(category: &Category, kind: TermKind, idx: usize) -> &str {
    let list = match kind {
        TermKind::CategoryName => &category.names,
        TermKind::Catalogue => &category.terms,
        TermKind::Synonym => &category.synonyms,
    };
    list.get(idx).map_or("", String::as_str)
}

#[cfg(test)]
mod tests;
