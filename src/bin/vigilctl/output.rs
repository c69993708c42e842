//! vigilctl at the terminal: secrets read without echo (or from a pipe, with no prompt), lines,
//! tables, and JSON made of D-Bus values.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};

use serde_json::{Value, json};
use zbus::{OwnedObjectPath, OwnedVariant};

use crate::{Failure, fail};

/// Reads a secret: without echo on a terminal, otherwise one line of standard input, with no prompt
/// (a script piping it in has no one to ask).
pub(crate) fn read_secret(prompt: &str) -> Result<String, Failure> {
    let value = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt)
            .map_err(|e| fail(format!("cannot read from the terminal: {e}")))?
    } else {
        let mut line = String::new();
        let read = std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| fail(format!("cannot read standard input: {e}")))?;
        if read == 0 {
            return Err(fail("cancelled: no more input"));
        }
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    Ok(value)
}

/// Reads a line (echoed), prompting only a person at a terminal.
pub(crate) fn read_line(prompt: &str) -> Result<String, Failure> {
    if std::io::stdin().is_terminal() {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    let read = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| fail(format!("cannot read standard input: {e}")))?;
    if read == 0 {
        return Err(fail("cancelled: no more input"));
    }
    Ok(line.trim().to_owned())
}

pub(crate) fn variant_json(value: &OwnedVariant) -> Value {
    if let Ok(s) = <&str>::try_from(value) {
        return json!(s);
    }
    if let Ok(b) = bool::try_from(value) {
        return json!(b);
    }
    if let Ok(n) = i64::try_from(value) {
        return json!(n);
    }
    if let Ok(n) = u32::try_from(value) {
        return json!(n);
    }
    if let Ok(n) = u16::try_from(value) {
        return json!(n);
    }
    if let Ok(p) = OwnedObjectPath::try_from(
        value
            .try_clone()
            .unwrap_or_else(|_| OwnedVariant::from(false)),
    ) {
        return json!(p.as_str());
    }
    Value::Null
}

pub(crate) fn dict_json(dict: &HashMap<String, OwnedVariant>) -> Value {
    let mut object = serde_json::Map::new();
    let mut keys: Vec<&String> = dict.keys().collect();
    keys.sort();
    for key in keys {
        object.insert(key.clone(), variant_json(&dict[key]));
    }
    Value::Object(object)
}

pub(crate) fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

pub(crate) fn print_table(headers: &[&str], rows: Vec<Vec<String>>) {
    if rows.is_empty() {
        println!("(none)");
        return;
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = widths[i]))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row);
    }
}
