//! Embeds the neutralization rules (`assets/neutralize/*.toml`) in the binary, so
//! it stands alone. A build script rather than a proc-macro crate: cargo then
//! rebuilds whenever a rules file is added, removed or edited.

use std::path::Path;

fn main() {
    let dir = Path::new("assets/neutralize");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("assets/neutralize")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut out = String::from(
        "/// (file name, contents) of every built-in rules file.\npub const RULE_FILES: &[(&str, &str)] = &[\n",
    );
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let abs = std::fs::canonicalize(f).expect("rules file");
        out.push_str(&format!(
            "    ({:?}, include_str!({:?})),\n",
            f.file_name().unwrap_or_default().to_string_lossy(),
            abs.display().to_string()
        ));
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("neutralize_rules.rs");
    std::fs::write(dest, out).expect("write neutralize_rules.rs");
}
