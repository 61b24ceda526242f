//! Every package's file list, held compactly, and who owns a path.

use dossier_plugin_api::records::{PackageFiles, SourceRef};

/// Every package's file list, held compactly: a fleet sweep keeps one database per host being
/// collected, and a Debian host lists some 100,000 paths. The paths are one text (each
/// followed by a newline) and a sorted index of (offset, length, list) answers "who owns this
/// path" by binary search; no per-path allocation.
#[derive(Debug, Default)]
pub struct FileLists {
    text: String,
    /// (manager, package, where the list was read from, range of `text`).
    lists: Vec<(String, String, SourceRef, std::ops::Range<usize>)>,
    /// (offset, length, list) of every path, sorted by path.
    index: Vec<(usize, u32, u32)>,
}

impl FileLists {
    /// Adds one package's list.
    pub fn add<S: AsRef<str>>(
        &mut self,
        manager: &str,
        package: String,
        files: impl IntoIterator<Item = S>,
        source: SourceRef,
    ) {
        let start = self.text.len();
        let list = self.lists.len() as u32;
        for f in files {
            let f = f.as_ref();
            self.index
                .push((self.text.len(), f.len().min(u32::MAX as usize) as u32, list));
            self.text.push_str(f);
            self.text.push('\n');
        }
        self.lists
            .push((manager.to_string(), package, source, start..self.text.len()));
    }

    /// Sorts the index; call once every list is added.
    pub fn finish(&mut self) {
        let text = &self.text;
        self.index.sort_unstable_by(|a, b| {
            text[a.0..a.0 + a.1 as usize].cmp(&text[b.0..b.0 + b.1 as usize])
        });
        self.text.shrink_to_fit();
        self.index.shrink_to_fit();
    }

    fn path(&self, e: &(usize, u32, u32)) -> &str {
        &self.text[e.0..e.0 + e.1 as usize]
    }

    /// Names of the packages whose lists hold exactly `path`.
    pub fn owners(&self, path: &str) -> Vec<&str> {
        let from = self.index.partition_point(|e| self.path(e) < path);
        self.index[from..]
            .iter()
            .take_while(|e| self.path(e) == path)
            .map(|e| self.lists[e.2 as usize].1.as_str())
            .collect()
    }

    /// Number of packages with a list.
    pub fn len(&self) -> usize {
        self.lists.len()
    }

    /// No list at all.
    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }

    /// The lists as records, one at a time.
    pub fn records(&self) -> impl Iterator<Item = PackageFiles> + '_ {
        self.lists
            .iter()
            .map(|(manager, package, source, range)| PackageFiles {
                manager: manager.clone(),
                package: package.clone(),
                files: self.text[range.clone()]
                    .lines()
                    .map(str::to_string)
                    .collect(),
                source: source.clone(),
            })
    }

    /// Every listed path (a path listed by several packages once per list).
    pub fn paths(&self) -> impl Iterator<Item = &str> + '_ {
        self.index.iter().map(|e| self.path(e))
    }
}
