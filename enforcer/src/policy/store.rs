//! Where policies come from: `--policy-dir` directories and the built-in library (the files of
//! `policies/`, embedded at build time so `palisade run --policy protect-etc` works anywhere).

use std::path::{Path, PathBuf};

use super::{
    error::{Diagnostic, PolicyErrors},
    model::Policy,
    parse::{self, parse_documents_str},
};

/// The built-in library: (file name, contents). A unit test checks it lists every file.
pub const LIBRARY: &[(&str, &str)] = &[
    (
        "audit-sensitive-files.yaml",
        include_str!("../../../policies/audit-sensitive-files.yaml"),
    ),
    (
        "block-kernel-module-tools.yaml",
        include_str!("../../../policies/block-kernel-module-tools.yaml"),
    ),
    (
        "block-metadata-service.yaml",
        include_str!("../../../policies/block-metadata-service.yaml"),
    ),
    (
        "deny-setuid-binaries-exec.yaml",
        include_str!("../../../policies/deny-setuid-binaries-exec.yaml"),
    ),
    (
        "no-exec-from-tmp.yaml",
        include_str!("../../../policies/no-exec-from-tmp.yaml"),
    ),
    (
        "protect-etc.yaml",
        include_str!("../../../policies/protect-etc.yaml"),
    ),
    (
        "protect-shadow.yaml",
        include_str!("../../../policies/protect-shadow.yaml"),
    ),
    (
        "readonly-root.yaml",
        include_str!("../../../policies/readonly-root.yaml"),
    ),
    (
        "tetragon/file-monitoring-enforce.yaml",
        include_str!("../../../policies/tetragon/file-monitoring-enforce.yaml"),
    ),
];

/// Loads every `*.yaml` / `*.yml` file of `dir` (not recursive, in name order). All errors of all
/// files are returned together; a policy name defined twice is an error naming both files.
pub fn load_dir(dir: &Path) -> Result<Vec<(PathBuf, Policy)>, PolicyErrors> {
    let shown = dir.display().to_string();
    let entries = std::fs::read_dir(dir)
        .map_err(|e| PolicyErrors::file(&shown, format!("cannot read directory: {e}")))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
        })
        .collect();
    files.sort();
    let mut out: Vec<(PathBuf, Policy)> = Vec::new();
    let mut errors: Vec<Diagnostic> = Vec::new();
    for path in files {
        let parsed = parse::read(&path).and_then(|(src, file)| parse_documents_str(&src, &file));
        match parsed {
            Err(e) => errors.extend(e.0),
            Ok(p) => {
                for doc in p.documents {
                    if let Some((first, _)) = out.iter().find(|(_, q)| q.name == doc.policy.name) {
                        errors.push(Diagnostic::error(
                            &path.display().to_string(),
                            doc.pos,
                            format!(
                                "policy \"{}\" is already defined in {}",
                                doc.policy.name,
                                first.display()
                            ),
                        ));
                    } else {
                        out.push((path.clone(), doc.policy));
                    }
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(PolicyErrors(errors))
    }
}

/// `NAME` or `FILE` -> one policy. A FILE (contains `/`, ends in `.yaml`/`.yml`, or exists) must
/// hold exactly one policy. A NAME is looked up in `dirs` in order (missing ones are skipped;
/// a broken file in a searched directory is an error), then in the built-in library.
pub fn resolve(name_or_file: &str, dirs: &[PathBuf]) -> Result<Policy, PolicyErrors> {
    let as_path = Path::new(name_or_file);
    if name_or_file.contains('/')
        || name_or_file.ends_with(".yaml")
        || name_or_file.ends_with(".yml")
        || as_path.is_file()
    {
        return parse::parse_policy_file(as_path);
    }
    // A missing directory holds no policy (the default --policy-dir need not exist).
    for dir in dirs.iter().filter(|d| d.exists()) {
        if let Some((_, p)) = load_dir(dir)?
            .into_iter()
            .find(|(_, p)| p.name == name_or_file)
        {
            return Ok(p);
        }
    }
    if let Some(p) = library().into_iter().find(|p| p.name == name_or_file) {
        return Ok(p);
    }
    let mut known: Vec<String> = library().into_iter().map(|p| p.name).collect();
    known.sort();
    let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    let place = if looked.is_empty() {
        String::new()
    } else {
        format!(" in {} or", looked.join(", "))
    };
    Err(PolicyErrors::file(
        name_or_file,
        format!(
            "no policy named \"{name_or_file}\"{place} in the built-in library (built-in: {})",
            known.join(", ")
        ),
    ))
}

/// Every policy of the built-in library.
pub fn library() -> Vec<Policy> {
    LIBRARY
        .iter()
        .flat_map(|(file, src)| {
            // The library is checked by unit tests; a broken file there is a build defect.
            parse::parse_policies_str(src, &format!("policies/{file}"))
                .unwrap_or_else(|e| panic!("built-in library: {e}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::policy::{model::Action, parse::parse_policy_str, render::to_yaml};

    fn policies_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies")
    }

    /// Every YAML file under policies/, relative to it.
    fn files(dir: &Path, rel: &str, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let name = format!("{rel}{}", p.file_name().unwrap().to_str().unwrap());
            if p.is_dir() {
                files(&p, &format!("{name}/"), out);
            } else if name.ends_with(".yaml") {
                out.push(name);
            }
        }
    }

    #[test]
    fn library_embeds_every_file_of_policies_dir() {
        let mut on_disk = Vec::new();
        files(&policies_dir(), "", &mut on_disk);
        on_disk.sort();
        let embedded: Vec<String> = LIBRARY.iter().map(|(f, _)| (*f).to_owned()).collect();
        assert_eq!(on_disk, embedded, "policies/ and store::LIBRARY differ");
    }

    #[test]
    fn every_library_policy_parses_has_a_demo_and_round_trips() {
        for (file, src) in LIBRARY {
            let parsed = parse_documents_str(src, file).unwrap_or_else(|e| panic!("{e}"));
            for doc in &parsed.documents {
                let p = &doc.policy;
                assert!(!p.description.is_empty(), "{file}: no description");
                if doc.origin == parse::Origin::Palisade {
                    let demo = doc
                        .demo
                        .as_ref()
                        .unwrap_or_else(|| panic!("{file}: no demo"));
                    assert!(demo.event.is_some(), "{file}: demo without expected event");
                }
                let again = parse_policy_str(&to_yaml(p), "rendered.yaml")
                    .unwrap_or_else(|e| panic!("{file}: {e}\n{}", to_yaml(p)));
                assert_eq!(&again, p, "{file} does not round-trip");
            }
        }
    }

    #[test]
    fn load_dir_and_resolve() {
        let lib = library();
        assert!(lib.len() >= 8);
        let p = resolve("protect-etc", &[PathBuf::from("/nonexistent/palisade")]).unwrap();
        assert_eq!(p.rules[0].action, Action::Deny);
        let e = resolve("protect-etcc", &[]).unwrap_err().to_string();
        assert!(e.starts_with("protect-etcc: error: no policy named \"protect-etcc\" in the built-in library (built-in: audit-sensitive-files,"), "{e}");

        let dir = tempfile::tempdir().unwrap();
        let own = "apiVersion: palisade.dev/v1alpha1\nkind: Policy\nmetadata: {name: protect-etc}\nspec:\n  rules: [{operations: [read], action: audit}]\n";
        std::fs::write(dir.path().join("a.yaml"), own).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a policy").unwrap();
        // A directory policy shadows the built-in one of the same name.
        let p = resolve("protect-etc", &[dir.path().to_owned()]).unwrap();
        assert_eq!(p.rules[0].action, Action::Audit);
        assert_eq!(load_dir(dir.path()).unwrap().len(), 1);
        // A file path is read as a file.
        let path = dir.path().join("a.yaml");
        assert_eq!(
            resolve(path.to_str().unwrap(), &[]).unwrap().name,
            "protect-etc"
        );

        std::fs::write(dir.path().join("b.yaml"), own).unwrap();
        std::fs::write(
            dir.path().join("c.yml"),
            "apiVersion: palisade.dev/v1alpha1\nkind: Policy\n",
        )
        .unwrap();
        let e = load_dir(dir.path()).unwrap_err();
        let shown = dir.path().display();
        assert_eq!(
            e.to_string(),
            format!(
                "{shown}/b.yaml:1:1: error: policy \"protect-etc\" is already defined in {shown}/a.yaml\n{shown}/c.yml:1:1: error: the policy: missing required key \"metadata\"\n{shown}/c.yml:1:1: error: the policy: missing required key \"spec\""
            )
        );
    }
}
