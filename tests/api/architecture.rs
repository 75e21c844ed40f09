//! The shape of the code, checked: layers import downward only, the wire contract depends on
//! nothing, no module sits in an import loop, and every document a comment cites is in the
//! repository. These read the sources (with `syn`), so a change that breaks the layering fails
//! here rather than in review.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use syn::visit::Visit;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Module path (`accounts::lockable`) of every file under `src/`.
fn source_modules() -> BTreeMap<Vec<String>, PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let src = Path::new(ROOT).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    files
        .into_iter()
        .filter(|f| f.file_name().is_some_and(|n| n != "main.rs"))
        .map(|file| {
            let rel = file.strip_prefix(&src).unwrap().with_extension("");
            let mut module: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
                module.pop();
            }
            (module, file)
        })
        .collect()
}

/// Every `crate::…` path a module's non-test code names (`use` trees and paths in code),
/// with `self::` and `super::` resolved.
struct Paths<'a> {
    module: &'a [String],
    found: BTreeSet<Vec<String>>,
}

impl Paths<'_> {
    fn absolute(&self, segments: Vec<String>) -> Option<Vec<String>> {
        let mut iter = segments.into_iter().peekable();
        let mut base: Vec<String> = match iter.peek().map(String::as_str) {
            Some("crate") => {
                iter.next();
                Vec::new()
            }
            Some("self") => {
                iter.next();
                self.module.to_vec()
            }
            Some("super") => {
                let mut base = self.module.to_vec();
                while iter.peek().map(String::as_str) == Some("super") {
                    iter.next();
                    base.pop();
                }
                base
            }
            _ => return None,
        };
        base.extend(iter);
        Some(base)
    }

    fn use_tree(&mut self, prefix: Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                let mut next = prefix;
                next.push(p.ident.to_string());
                self.use_tree(next, &p.tree);
            }
            syn::UseTree::Name(n) => self.add(prefix, Some(n.ident.to_string())),
            syn::UseTree::Rename(r) => self.add(prefix, Some(r.ident.to_string())),
            syn::UseTree::Glob(_) => self.add(prefix, None),
            syn::UseTree::Group(g) => {
                for item in &g.items {
                    self.use_tree(prefix.clone(), item);
                }
            }
        }
    }

    fn add(&mut self, mut prefix: Vec<String>, last: Option<String>) {
        prefix.extend(last.filter(|l| l != "self"));
        if let Some(path) = self.absolute(prefix) {
            self.found.insert(path);
        }
    }
}

fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.meta
                .require_list()
                .is_ok_and(|l| l.tokens.to_string().contains("test"))
    })
}

impl<'ast> Visit<'ast> for Paths<'_> {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_tree(Vec::new(), &item.tree);
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if !is_test_only(&item.attrs) {
            syn::visit::visit_item_mod(self, item);
        }
    }

    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        if !is_test_only(&item.attrs) {
            syn::visit::visit_item_fn(self, item);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments = path.segments.iter().map(|s| s.ident.to_string()).collect();
        if let Some(p) = self.absolute(segments) {
            self.found.insert(p);
        }
        syn::visit::visit_path(self, path);
    }
}

/// module → the modules it imports (the longest known module prefix of each path).
fn dependencies() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let modules = source_modules();
    modules
        .iter()
        .map(|(module, file)| {
            let text = std::fs::read_to_string(file).unwrap();
            let ast = syn::parse_file(&text)
                .unwrap_or_else(|e| panic!("{} does not parse: {e}", file.display()));
            let mut paths = Paths {
                module,
                found: BTreeSet::new(),
            };
            paths.visit_file(&ast);
            let deps = paths
                .found
                .into_iter()
                .filter_map(|path| {
                    (1..=path.len())
                        .rev()
                        .map(|n| path[..n].to_vec())
                        .find(|prefix| modules.contains_key(prefix))
                })
                .filter(|dep| dep != module)
                .collect();
            (module.clone(), deps)
        })
        .collect()
}

fn name(module: &[String]) -> String {
    if module.is_empty() {
        "crate".into()
    } else {
        module.join("::")
    }
}

/// Which top-level modules each layer may not import. Allowed directions: (api, gateway) →
/// http → accounts → (oauth, mail, limits) → store → tokens; everyone may use `contract` and
/// `config`.
const FORBIDDEN: &[(&str, &[&str])] = &[
    ("contract", &["*"]),
    ("tokens", &["*"]),
    ("origins", &["*"]),
    (
        "locale",
        &[
            "api", "http", "accounts", "store", "mail", "oauth", "startup", "config", "limits",
            "redirect",
        ],
    ),
    ("proxies", &["*"]),
    ("metrics", &["*"]),
    (
        "limits",
        &[
            "api", "http", "accounts", "store", "mail", "oauth", "startup", "config", "redirect",
        ],
    ),
    (
        "redirect",
        &[
            "api", "http", "accounts", "store", "mail", "oauth", "startup", "config",
        ],
    ),
    (
        "config",
        &[
            "api", "http", "accounts", "store", "mail", "startup", "gateway",
        ],
    ),
    (
        "store",
        &[
            "api", "http", "accounts", "mail", "oauth", "startup", "redirect", "gateway",
        ],
    ),
    (
        "mail",
        &[
            "api", "http", "accounts", "store", "oauth", "startup", "gateway",
        ],
    ),
    ("oauth", &["api", "http", "accounts", "startup", "gateway"]),
    ("accounts", &["api", "http", "startup", "gateway"]),
    ("http", &["api", "startup", "gateway"]),
    // Handlers parse, call one account rule and answer: the store is the rules' business.
    ("api", &["startup", "gateway", "store"]),
    ("gateway", &["api", "startup"]),
    // The operator's commands sit beside the API: they use the account rules and the store.
    ("import", &["api", "http", "startup", "gateway", "admin"]),
    ("admin", &["api", "http", "startup", "gateway"]),
];

#[test]
fn layers_import_downward_only() {
    let mut violations = Vec::new();
    for (module, deps) in dependencies() {
        let Some(top) = module.first() else { continue };
        let Some((_, forbidden)) = FORBIDDEN.iter().find(|(layer, _)| layer == top) else {
            continue;
        };
        for dep in deps {
            let dep_top = dep.first().map(String::as_str).unwrap_or("crate");
            let allowed_anyway = dep_top == top || (dep_top == "contract" && top != "contract");
            if !allowed_anyway && (forbidden.contains(&"*") || forbidden.contains(&dep_top)) {
                violations.push(format!("{} imports {}", name(&module), name(&dep)));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layering broken:\n{}",
        violations.join("\n")
    );
}

#[test]
fn no_module_sits_in_an_import_loop() {
    // A child naming its parent (`super::Accounts`) and a parent re-exporting its child are one
    // module's inside; loops are looked for between modules that are not each other's ancestors.
    let deps = dependencies();
    let related = |a: &[String], b: &[String]| a.starts_with(b) || b.starts_with(a);
    let mut loops = BTreeSet::new();
    for start in deps.keys() {
        // Depth-first search for a path back to `start`.
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((at, path)) = stack.pop() {
            for next in deps.get(&at).into_iter().flatten() {
                if related(&at, next) {
                    continue;
                }
                if next == start {
                    let mut names: Vec<String> = path.iter().map(|m| name(m)).collect();
                    names.push(name(start));
                    loops.insert(names.join(" → "));
                } else if seen.insert(next.clone()) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    assert!(
        loops.is_empty(),
        "import loops:\n{}",
        loops.into_iter().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn the_contract_module_depends_on_nothing_of_toker() {
    for (module, deps) in dependencies() {
        if module.first().map(String::as_str) == Some("contract") {
            let outside: Vec<_> = deps
                .iter()
                .filter(|d| d.first().map(String::as_str) != Some("contract"))
                .map(|d| name(d))
                .collect();
            assert!(outside.is_empty(), "{} imports {outside:?}", name(&module));
        }
    }
}

/// Files that may cite documents: everything tracked but the documents themselves and lock files.
fn citing_files() -> Vec<PathBuf> {
    let out = std::process::Command::new("git")
        .args(["ls-files"])
        .current_dir(ROOT)
        .output()
        .expect("git ls-files");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|f| {
            let keep = [".rs", ".mjs", ".js", ".html", ".md", ".toml", ".yaml"];
            keep.iter().any(|e| f.ends_with(e)) || f.starts_with(".ci/") || f.starts_with("bench/")
        })
        // This file names the old documents on purpose, to refuse them.
        .filter(|f| !f.ends_with("package-lock.json") && !f.starts_with("docs/"))
        .filter(|f| *f != "tests/api/architecture.rs")
        .map(|f| Path::new(ROOT).join(f))
        .collect()
}

/// The section numbers (`2.0.6`) and decision ids (`D5`) a document's headings define.
fn anchors(doc: &str) -> BTreeSet<String> {
    doc.lines()
        .filter_map(|l| l.strip_prefix('#'))
        .filter_map(|l| l.trim_start_matches('#').split_whitespace().next())
        .map(|n| n.trim_end_matches('.').to_string())
        .collect()
}

#[test]
fn every_cited_document_and_section_is_in_the_repository() {
    let citation =
        regex::Regex::new(r"(?:\.\./)*(?:shared/)?(?:contract/)?([A-Za-z0-9_./-]*[A-Za-z0-9_-]+\.md)(?: §([0-9]+(?:\.[0-9]+)*)| (D[0-9]+))?")
            .unwrap();
    let mut problems = Vec::new();
    for file in citing_files() {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let rel = file.strip_prefix(ROOT).unwrap().display().to_string();
        for cap in citation.captures_iter(&text) {
            let whole = &cap[0];
            if whole.contains("shared/") || whole.starts_with("../") {
                problems.push(format!(
                    "{rel}: cites `{whole}`, which is outside the repository"
                ));
                continue;
            }
            let doc = &cap[1];
            // Markdown links are relative to the citing file; bare names to the root or docs/.
            let here = file.parent().unwrap().join(doc);
            let candidates = [Path::new(ROOT).join(doc), here];
            let Some(found) = candidates.iter().find(|p| p.is_file()) else {
                // npm packages' and other projects' file names in prose are not citations; a
                // path, a section number or the name of one of our own documents is.
                let sectioned = cap.get(2).is_some() || cap.get(3).is_some();
                let ours = Path::new(ROOT).join("docs").join(doc).is_file();
                if doc.contains('/') || sectioned || ours {
                    problems.push(format!(
                        "{rel}: cites `{doc}`, which is not in the repository"
                    ));
                }
                continue;
            };
            let section = cap.get(2).or(cap.get(3)).map(|m| m.as_str());
            if let Some(section) = section {
                let defined = anchors(&std::fs::read_to_string(found).unwrap());
                // `§9.4` may be item 4 of section 9's list.
                let parent = section.rsplit_once('.').map(|(p, _)| p.to_string());
                if !defined.contains(section) && !parent.is_some_and(|p| defined.contains(&p)) {
                    problems.push(format!(
                        "{rel}: cites {doc} {section}, which has no such section"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The names a README table row documents in its first cell (`| \`a\`, \`b\` | …`).
fn readme_setting_names() -> BTreeSet<String> {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let code = regex::Regex::new(r"`([a-z_][a-z0-9_.-]*)`").unwrap();
    readme
        .lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| l.split('|').nth(1))
        .flat_map(|cell| {
            code.captures_iter(cell)
                .map(|c| c[1].to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn every_setting_is_in_the_readme_settings_reference() {
    let documented = readme_setting_names();
    let keys = |value: serde_json::Value| -> Vec<String> {
        value.as_object().unwrap().keys().cloned().collect()
    };
    let mut missing: Vec<String> =
        keys(serde_json::to_value(toker::config::Settings::default()).unwrap())
            .into_iter()
            .chain(
                keys(
                    serde_json::to_value(toker::config::oauth::OAuthProviderSettings::default())
                        .unwrap(),
                )
                .into_iter()
                .map(|k| format!("[oauth.<name>] {k}")),
            )
            .filter(|k| !documented.contains(k.trim_start_matches("[oauth.<name>] ")))
            .collect();
    missing.sort();
    assert!(
        missing.is_empty(),
        "settings missing from README's tables: {missing:?}"
    );
}

/// Every `src/….rs` file the documents name, so that a reader following one finds it.
#[test]
fn every_source_file_the_documents_name_exists() {
    let path = regex::Regex::new(
        r"`((?:src|tests|bench|migration|entity)/[A-Za-z0-9_/.-]+\.(?:rs|mjs|md))",
    )
    .unwrap();
    let mut docs = vec![Path::new(ROOT).join("README.md")];
    for entry in std::fs::read_dir(Path::new(ROOT).join("docs")).unwrap() {
        let entry = entry.unwrap().path();
        if entry.extension().is_some_and(|e| e == "md") {
            docs.push(entry);
        }
    }
    let mut missing = Vec::new();
    for doc in docs {
        let text = std::fs::read_to_string(&doc).unwrap();
        for cap in path.captures_iter(&text) {
            if !Path::new(ROOT).join(&cap[1]).is_file() {
                missing.push(format!(
                    "{}: names `{}`",
                    doc.strip_prefix(ROOT).unwrap().display(),
                    &cap[1]
                ));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// Every `toml` example in README is a configuration toker accepts, as it would be copied.
#[test]
fn every_toml_example_in_the_readme_is_accepted() {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut refused = Vec::new();
    let mut blocks = 0;
    let mut lines = readme.lines().enumerate();
    while let Some((start, line)) = lines.next() {
        if line.trim() != "```toml" {
            continue;
        }
        let body: Vec<&str> = lines
            .by_ref()
            .take_while(|(_, l)| l.trim() != "```")
            .map(|(_, l)| l)
            .collect();
        blocks += 1;
        // Folders the examples name under /etc/toker are made in the scratch directory.
        let etc = dir.path().join("etc");
        for folder in ["locales", "mail"] {
            std::fs::create_dir_all(etc.join(folder)).unwrap();
        }
        let body = body.join("\n").replace("/etc/toker", etc.to_str().unwrap());
        let file = dir.path().join(format!("example-{start}.toml"));
        std::fs::write(&file, body).unwrap();
        if let Err(e) = toker::config::Settings::load(Some(&file)) {
            refused.push(format!("README.md line {}: {e}", start + 1));
        }
    }
    assert!(blocks >= 5, "found only {blocks} toml examples");
    assert!(refused.is_empty(), "{}", refused.join("\n"));
}
