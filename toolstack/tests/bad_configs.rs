//! Every `tests/bad/NAME.cfg` must fail with exactly the line in
//! `tests/bad/NAME.err`, the file named as `NAME.cfg`.

use std::fs;
use std::path::Path;

#[test]
fn each_bad_config_gives_its_error() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .expect("tests/bad exists")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".cfg"))
        .collect();
    names.sort();
    assert!(names.len() >= 12, "only {} bad configs", names.len());
    let mut failures = Vec::new();
    for name in &names {
        let text = fs::read(dir.join(name)).expect("readable");
        let err_file = dir.join(name.replace(".cfg", ".err"));
        let want =
            fs::read_to_string(&err_file).unwrap_or_else(|_| panic!("{} has no .err file", name));
        match toolstack::parse(name, &text) {
            Ok(c) => failures.push(format!("{name}: parsed, as {c:?}")),
            Err(e) if e.to_string() != want.trim_end() => {
                failures.push(format!("{name}:\n  want {}\n  got  {e}", want.trim_end()))
            }
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_err_file_has_its_config() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad");
    for e in fs::read_dir(&dir).expect("tests/bad exists") {
        let name = e
            .expect("entry")
            .file_name()
            .into_string()
            .expect("utf-8 name");
        if let Some(stem) = name.strip_suffix(".err") {
            assert!(
                dir.join(format!("{stem}.cfg")).exists(),
                "{name} has no .cfg"
            );
        }
    }
}
