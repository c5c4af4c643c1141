//! Embeds the bundled Zhejiang data (../../data/zhejiang) so `pingan demo`
//! needs no files beside the binary, and the built web front end
//! (../../web/dist, made by `npm run build`) when it is there.
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/zhejiang");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    collect(&root, &root, &mut files);
    files.sort();
    let mut out = String::from("/// Bundled files: (path relative to data/zhejiang, contents).\npub static BUNDLED: &[(&str, &[u8])] = &[\n");
    for (rel, abs) in &files {
        println!("cargo:rerun-if-changed={abs}");
        out.push_str(&format!("    ({rel:?}, include_bytes!({abs:?})),\n"));
    }
    out.push_str("];\n");
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(Path::new(&out_dir).join("bundled.rs"), out).expect("write bundled.rs");

    // The front end: absent until built, and then the server says so.
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/dist");
    println!("cargo:rerun-if-changed={}", web.display());
    let mut files = Vec::new();
    collect(&web, &web, &mut files);
    files.sort();
    let mut out = String::from(
        "/// The built front end: (path under web/dist, contents).\npub static WEB: &[(&str, &[u8])] = &[\n",
    );
    for (rel, abs) in &files {
        println!("cargo:rerun-if-changed={abs}");
        out.push_str(&format!("    ({rel:?}, include_bytes!({abs:?})),\n"));
    }
    out.push_str("];\n");
    std::fs::write(Path::new(&out_dir).join("web.rs"), out).expect("write web.rs");
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if let Ok(rel) = path.strip_prefix(root) {
            let abs = path.canonicalize().unwrap_or(path.clone());
            files.push((
                rel.to_string_lossy().replace('\\', "/"),
                abs.to_string_lossy().into_owned(),
            ));
        }
    }
}
