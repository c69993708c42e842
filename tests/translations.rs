//! Every text the menu shows has its Russian translation: each `@tr("…")` in `ui/` (in the context of
//! the component or global it is in, as Slint looks it up) has a non-empty `msgstr` in
//! `ui/translations/ru/LC_MESSAGES/vigil.po`, with every plural form when it has plurals. Reads the
//! sources only.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn slint_files(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("ui/ is readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            slint_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "slint") {
            into.push(path);
        }
    }
}

/// Reads a string literal starting just after its opening quote; the text (escapes kept as written,
/// as the .po keeps them) and the rest after the closing quote.
fn literal(text: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                out.push('\\');
                if let Some((_, next)) = chars.next() {
                    out.push(next);
                }
            }
            '"' => return Some((out, &text[i + 1..])),
            c => out.push(c),
        }
    }
    None
}

/// `(context, msgid, has plural)` of every `@tr` in a file: the context is the top-level component or
/// global it is written in.
fn texts_of(source: &str) -> Vec<(String, String, bool)> {
    let mut found = Vec::new();
    let mut depth = 0usize;
    let mut context = String::new();
    let mut rest = source;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("@tr(") {
            let after = after.trim_start();
            if let Some((msgid, tail)) = after.strip_prefix('"').and_then(literal) {
                let plural = tail.trim_start().starts_with('|');
                found.push((context.clone(), msgid, plural));
                rest = tail;
                continue;
            }
        }
        if depth == 0 {
            for keyword in ["component ", "global "] {
                if let Some(after) = rest.strip_prefix(keyword) {
                    let name: String = after
                        .trim_start()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
                        .collect();
                    if !name.is_empty() {
                        context = name;
                    }
                }
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            '"' => {
                // Skip other string literals whole, so braces inside them do not count.
                if let Some((_, tail)) = literal(&rest[1..]) {
                    rest = tail;
                    continue;
                }
            }
            '/' if rest.starts_with("//") => {
                rest = rest.find('\n').map_or("", |at| &rest[at..]);
                continue;
            }
            _ => {}
        }
        rest = &rest[c.len_utf8()..];
    }
    found
}

/// `(context, msgid)` of every entry of a .po file that is translated (all plural forms filled).
fn translated(po: &str) -> BTreeSet<(String, String)> {
    let mut done = BTreeSet::new();
    for block in po.split("\n\n") {
        let field = |name: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().strip_prefix('"'))
                .and_then(literal)
                .map(|(text, _)| text)
        };
        let (Some(context), Some(msgid)) = (field("msgctxt "), field("msgid ")) else {
            continue;
        };
        let forms: Vec<String> = block
            .lines()
            .filter(|l| l.starts_with("msgstr"))
            .filter_map(|l| l.split_once(' ').map(|(_, v)| v.trim()))
            .filter_map(|v| v.strip_prefix('"').and_then(literal).map(|(t, _)| t))
            .collect();
        let plural = block.lines().any(|l| l.starts_with("msgid_plural "));
        let complete = !forms.is_empty()
            && forms.iter().all(|f| !f.is_empty())
            && (!plural || forms.len() == 3);
        if complete {
            done.insert((context, msgid));
        }
    }
    done
}

#[test]
fn every_text_of_the_menu_is_translated_into_russian() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let po = std::fs::read_to_string(root.join("ui/translations/ru/LC_MESSAGES/vigil.po"))
        .expect("the Russian catalogue");
    let done = translated(&po);
    let mut files = Vec::new();
    slint_files(&root.join("ui"), &mut files);
    files.sort();
    let mut missing = Vec::new();
    let mut total = 0;
    for file in &files {
        let source = std::fs::read_to_string(file).expect("readable");
        for (context, msgid, _) in texts_of(&source) {
            total += 1;
            if !done.contains(&(context.clone(), msgid.clone())) {
                missing.push(format!(
                    "{}: [{context}] {msgid}",
                    file.strip_prefix(root).unwrap_or(file).display()
                ));
            }
        }
    }
    assert!(total > 200, "the reader found only {total} texts");
    assert!(
        missing.is_empty(),
        "{} of {total} texts have no Russian:\n{}",
        missing.len(),
        missing.join("\n")
    );
}

#[test]
fn the_reader_finds_contexts_plurals_and_escapes() {
    let source = r#"export component Page inherits Rectangle {
        Text { text: @tr("Hello \"you\""); }
        Text { text: @tr("{n} camera" | "{n} cameras" % 2); }
        Text { text: "not {this}"; }
    }
    global Words { out property <string> w: @tr("Word"); }"#;
    assert_eq!(
        texts_of(source),
        vec![
            ("Page".into(), r#"Hello \"you\""#.into(), false),
            ("Page".into(), "{n} camera".into(), true),
            ("Words".into(), "Word".into(), false),
        ]
    );
}

/// The variants of `export enum Problem` in ui/api.slint.
fn problems(api: &str) -> Vec<String> {
    let body = api
        .split_once("export enum Problem {")
        .and_then(|(_, rest)| rest.split_once('}'))
        .map(|(body, _)| body)
        .expect("ui/api.slint declares Problem");
    body.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .flat_map(|line| line.split(','))
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_problem_has_its_own_explanation() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let api = std::fs::read_to_string(root.join("ui/api.slint")).expect("ui/api.slint");
    let texts = std::fs::read_to_string(root.join("ui/texts.slint")).expect("ui/texts.slint");
    let all = problems(&api);
    assert!(
        all.len() > 50,
        "the reader found only {} problems",
        all.len()
    );
    let unexplained: Vec<&String> = all
        .iter()
        .filter(|p| !matches!(p.as_str(), "none" | "other"))
        .filter(|p| !texts.contains(&format!("f.problem == Problem.{p} {{")))
        .collect();
    assert!(
        unexplained.is_empty(),
        "Texts.explain has no sentence for {unexplained:?}"
    );
}

/// The dark style draws a field's placeholder nearly as bright as a value typed in, so an installer
/// takes a hint for a filled-in field. The menu says what goes in a field in its label instead.
#[test]
fn no_entry_field_carries_a_hint_that_looks_like_a_value() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    slint_files(&root.join("ui"), &mut files);
    let with_placeholders: Vec<String> = files
        .iter()
        .filter(|file| {
            std::fs::read_to_string(file)
                .expect("readable")
                .contains("placeholder-text:")
        })
        .map(|file| file.display().to_string())
        .collect();
    assert!(
        with_placeholders.is_empty(),
        "placeholders (drawn like values) in {with_placeholders:?}"
    );
}

#[test]
fn the_catalogue_holds_no_text_the_menu_no_longer_has() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let po = std::fs::read_to_string(root.join("ui/translations/ru/LC_MESSAGES/vigil.po"))
        .expect("the Russian catalogue");
    let mut files = Vec::new();
    slint_files(&root.join("ui"), &mut files);
    let mut in_menu = BTreeSet::new();
    for file in &files {
        let source = std::fs::read_to_string(file).expect("readable");
        for (context, msgid, _) in texts_of(&source) {
            in_menu.insert((context, msgid));
        }
    }
    let stale: Vec<String> = translated(&po)
        .into_iter()
        .filter(|entry| !in_menu.contains(entry))
        .map(|(context, msgid)| format!("[{context}] {msgid}"))
        .collect();
    assert!(
        stale.is_empty(),
        "{} entries of the catalogue are no longer in the menu:\n{}",
        stale.len(),
        stale.join("\n")
    );
}
