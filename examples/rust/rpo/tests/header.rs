//! `rpo::sys` against include/rpo.h, read as text: every constant and every
//! function of the header's stable part (before RPO_STATIC_LINKING_ONLY) is
//! declared in src/sys.rs with the header's value, parameter types and
//! return type, and sys.rs declares nothing the header lacks. A
//! hand-written FFI declaration that drifted from the header would be
//! undefined behaviour at the call, which no other test would reliably see.
use std::collections::BTreeMap;

fn read(relative: &str) -> String {
    let path = format!("{}/{}", env!("CARGO_MANIFEST_DIR"), relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The header up to the end of its stable part.
fn stable_header() -> String {
    let text = read("../../../include/rpo.h");
    let end = text.find("#endif /* RPO_H */").expect("the header's include guard");
    text[..end].to_string()
}

/// A C comment-free text (the header's declarations have comments beside).
fn strip_comments(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("*/").expect("a closed comment");
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

/// `#define RPO_X <integer>` of the header, without the version numbers
/// (the crate reads those through rpo::version_number).
fn header_constants() -> BTreeMap<String, i64> {
    let mut constants = BTreeMap::new();
    for line in strip_comments(&stable_header()).lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() != 3 || words[0] != "#define" || words[1].starts_with("RPO_VERSION_") {
            continue;
        }
        if let Ok(value) = words[2].trim_matches(|c| c == '(' || c == ')').parse() {
            constants.insert(words[1].to_string(), value);
        }
    }
    constants
}

fn sys_constants(sys: &str) -> BTreeMap<String, i64> {
    let mut constants = BTreeMap::new();
    for line in sys.lines() {
        if let Some(decl) = line.trim().strip_prefix("pub const ") {
            let name = decl.split(':').next().unwrap().trim();
            let value = decl.split('=').nth(1).unwrap().trim().trim_end_matches(';');
            constants.insert(name.to_string(), value.parse().expect("an integer constant"));
        }
    }
    constants
}

/// One C type ("const float *", "size_t") in Rust's spelling of sys.rs
/// ("*const f32", "usize"), with the std::os::raw aliases resolved.
fn c_type(c: &str) -> String {
    let spaced = c.replace('*', " * ");
    let words: Vec<&str> = spaced.split_whitespace().collect();
    let is_const = words.first() == Some(&"const");
    let pointers = words.iter().filter(|w| **w == "*").count();
    let base = words.iter().find(|w| **w != "const" && **w != "*").expect("a type");
    let base = match *base {
        "double" => "f64",
        "float" => "f32",
        "int" | "int32_t" => "i32",
        "unsigned" => "u32",
        "size_t" => "usize",
        "uint8_t" => "u8",
        "uint64_t" => "u64",
        "int64_t" => "i64",
        "char" => "c_char",
        other => other,
    };
    assert!(pointers <= 1, "{c}: one level of pointer at most");
    match (pointers, is_const) {
        (0, _) => base.to_string(),
        (_, true) => format!("*const {base}"),
        (_, false) => format!("*mut {base}"),
    }
}

fn rust_type(rust: &str) -> String {
    rust.split_whitespace()
        .map(|w| match w {
            "c_double" => "f64",
            "c_int" => "i32",
            "c_uint" => "u32",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// name -> (parameter types, return type), "void" for none.
type Signatures = BTreeMap<String, (Vec<String>, String)>;

fn header_functions() -> Signatures {
    let text = strip_comments(&stable_header());
    let mut functions = Signatures::new();
    for decl in text.split("RPO_API ").skip(1) {
        if decl.starts_with("__attribute__") || decl.starts_with("__declspec") {
            continue; // the macro's own definitions
        }
        let decl = &decl[..decl.find(';').expect("a declaration")];
        let open = decl.find('(').unwrap();
        let head = decl[..open].replace('*', " * ");
        let name = head.split_whitespace().last().unwrap().to_string();
        let ret = c_type(&head[..head.rfind(&name).unwrap()]);
        let args = &decl[open + 1..decl.rfind(')').unwrap()];
        let params = if args.trim() == "void" {
            Vec::new()
        } else {
            args.split(',')
                .map(|p| {
                    // drop the parameter's name: the last identifier
                    let p = p.trim();
                    let cut = p.rfind(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap();
                    c_type(&p[..=cut])
                })
                .collect()
        };
        functions.insert(name, (params, ret));
    }
    functions
}

fn sys_functions(sys: &str) -> Signatures {
    let mut functions = Signatures::new();
    for decl in sys.split("pub fn ").skip(1) {
        let decl = &decl[..decl.find(';').expect("a declaration")];
        let open = decl.find('(').unwrap();
        let close = decl.rfind(')').unwrap();
        let name = decl[..open].trim().to_string();
        let params = decl[open + 1..close]
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|p| rust_type(p.split(':').nth(1).expect("name: type")))
            .collect();
        let ret = decl[close + 1..].trim().strip_prefix("->").map_or("void".to_string(), rust_type);
        functions.insert(name, (params, ret));
    }
    functions
}

#[test]
fn every_header_constant_is_in_sys_with_its_value() {
    let header = header_constants();
    let sys = sys_constants(&read("src/sys.rs"));
    assert!(header.len() > 50, "the header parser found {} constants", header.len());
    for (name, value) in &header {
        assert_eq!(sys.get(name), Some(value), "{name}: header {value}, sys.rs {:?}",
                   sys.get(name));
    }
    for name in sys.keys() {
        assert!(header.contains_key(name), "sys.rs declares {name}, rpo.h does not");
    }
}

#[test]
fn every_header_function_is_in_sys_with_its_signature() {
    let header = header_functions();
    let sys = sys_functions(&read("src/sys.rs"));
    assert!(header.len() > 25, "the header parser found {} functions", header.len());
    assert_eq!(header["rpo_ctx_get"],
               (vec!["*const rpo_ctx".to_string(), "i32".into(), "*mut f64".into()],
                "i32".to_string()));
    for (name, signature) in &header {
        assert_eq!(sys.get(name), Some(signature), "{name}");
    }
    for name in sys.keys() {
        assert!(header.contains_key(name), "sys.rs declares {name}, rpo.h does not");
    }
}
