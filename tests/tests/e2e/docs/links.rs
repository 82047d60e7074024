//! Every relative link in README.md, docs/ and bench/ resolves: to an existing file or folder,
//! and with `#anchor` to a heading of the Markdown file it names (GitHub's anchor rules). Every
//! page under docs/ is linked from README.md, so none is orphaned.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::repo;

/// The Markdown files whose links are checked: README.md and everything under docs/ and bench/.
fn pages() -> Vec<PathBuf> {
    let root = repo();
    let mut out = vec![root.join("README.md")];
    for dir in ["docs", "bench"] {
        collect_md(&root.join(dir), &mut out);
    }
    out.sort();
    out
}

fn collect_md(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_md(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

/// The lines of `text` outside fenced code blocks, with their line numbers (from 1).
fn prose(text: &str) -> Vec<(usize, &str)> {
    let mut fence: Option<&str> = None;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let marker = ["```", "~~~"].into_iter().find(|m| trimmed.starts_with(m));
        match (fence, marker) {
            (None, Some(m)) => fence = Some(m),
            (Some(open), Some(m)) if open == m => fence = None,
            (None, None) => out.push((n + 1, line)),
            _ => {}
        }
    }
    out
}

/// `line` with the contents of inline code spans blanked out (the backticks kept), so that
/// `](` inside code is not a link while `` [`kill`](#kill) `` still is.
fn without_code(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_code = false;
    for c in line.chars() {
        if c == '`' {
            in_code = !in_code;
            out.push(c);
        } else {
            out.push(if in_code { 'x' } else { c });
        }
    }
    out
}

/// The targets of the inline links `[text](target)` (and images) on one line.
fn link_targets(line: &str) -> Vec<String> {
    let line = without_code(line);
    let mut out = Vec::new();
    let mut rest = line.as_str();
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let Some(end) = after.find(')') else { break };
        let target = after[..end].trim();
        // `[text](target "title")`: the title is not part of the target.
        let target = target.split_whitespace().next().unwrap_or("");
        out.push(target.to_owned());
        rest = &after[end..];
    }
    out
}

/// GitHub's anchor for a heading: lower case, punctuation and symbols dropped (backticks,
/// parentheses, dots, arrows…), spaces turned into hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown file's headings, with GitHub's `-1`, `-2` for repeats.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (_, line) in prose(text) {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let base = slug(&line[hashes..]);
        let mut anchor = base.clone();
        let mut n = 0;
        while out.contains(&anchor) {
            n += 1;
            anchor = format!("{base}-{n}");
        }
        out.insert(anchor);
    }
    out
}

/// What is wrong with one link of `page`, if anything; `linked` collects the files reached.
fn check(page: &Path, target: &str, linked: &mut BTreeSet<PathBuf>) -> Option<String> {
    if target.is_empty() {
        return Some("an empty link".into());
    }
    if target.contains("://") || target.starts_with("mailto:") {
        return None;
    }
    let (path, anchor) = match target.split_once('#') {
        Some((path, anchor)) => (path, Some(anchor)),
        None => (target, None),
    };
    let file = if path.is_empty() {
        page.to_path_buf()
    } else {
        page.parent().expect("a page is in a folder").join(path)
    };
    let Ok(file) = file.canonicalize() else {
        return Some(format!("{target}: no such file"));
    };
    linked.insert(file.clone());
    let anchor = anchor?;
    if file.extension().is_none_or(|e| e != "md") {
        return Some(format!(
            "{target}: an anchor into a file that is not Markdown"
        ));
    }
    let text = std::fs::read_to_string(&file).expect("read the linked page");
    if anchors(&text).contains(anchor) {
        None
    } else {
        Some(format!("{target}: no heading with the anchor #{anchor}"))
    }
}

#[test]
fn every_relative_link_resolves_and_every_docs_page_is_linked_from_the_readme() {
    let root = repo();
    let mut broken = Vec::new();
    let mut from_readme = BTreeSet::new();
    let readme = root.join("README.md").canonicalize().expect("README.md");
    let pages = pages();
    assert!(pages.len() > 10, "the pages to check: {pages:?}");
    for page in &pages {
        let text = std::fs::read_to_string(page).expect("read page");
        let mut linked = BTreeSet::new();
        for (n, line) in prose(&text) {
            for target in link_targets(line) {
                if let Some(why) = check(page, &target, &mut linked) {
                    let shown = page.strip_prefix(&root).unwrap_or(page).display();
                    broken.push(format!("{shown}:{n}: {why}"));
                }
            }
        }
        if page.canonicalize().ok().as_ref() == Some(&readme) {
            from_readme = linked;
        }
    }
    let mut docs = Vec::new();
    collect_md(&root.join("docs"), &mut docs);
    for page in docs {
        let page = page.canonicalize().expect("docs page");
        if !from_readme.contains(&page) {
            let shown = page
                .strip_prefix(root.canonicalize().unwrap())
                .unwrap_or(&page)
                .display();
            broken.push(format!("README.md: no link to {shown}"));
        }
    }
    assert!(
        broken.is_empty(),
        "broken documentation links:\n{}",
        broken.join("\n")
    );
}

#[test]
fn anchors_follow_githubs_rules() {
    let cases = [
        ("## `kill` (built in)", "kill-built-in"),
        (
            "## Health: the verdict of one check",
            "health-the-verdict-of-one-check",
        ),
        ("## Several hosts (`--hosts`)", "several-hosts---hosts"),
        ("### Default `recovery_actions`", "default-recovery_actions"),
        (
            "## Moving from the seed (the cron job)",
            "moving-from-the-seed-the-cron-job",
        ),
        ("## Lifecycle states (`STATE`)", "lifecycle-states-state"),
        ("## kill → start", "kill--start"),
    ];
    for (heading, want) in cases {
        assert!(
            anchors(heading).contains(want),
            "{heading} → {:?}",
            anchors(heading)
        );
    }
    assert_eq!(
        anchors("# A\n## A\n```\n# not a heading\n```\n## A"),
        BTreeSet::from(["a".to_owned(), "a-1".to_owned(), "a-2".to_owned()])
    );
    assert_eq!(
        link_targets("see [`kill`](#kill) and `[x](not-a-link)` and [b](b.md \"title\")"),
        vec!["#kill".to_owned(), "b.md".to_owned()]
    );
}
