//! Entry points for the fuzz targets in `fuzz/`: pure forms of internals that are otherwise private. Not a stable
//! API; hidden from the documentation, and nothing here is `extern "C"` or `#[repr(C)]`, so the header is unchanged.

use crate::vocab::files::Boundary;
use crate::vocab::files::LineEdit;

/// `apply_diff`'s parsing, placement and boundary check on text: `diff` applied to `before` (`None`: the file
/// does not exist yet), giving the new text and its line edits, or the error the tool would report.
pub fn apply_diff(
    before: Option<&str>,
    diff: &str,
    boundary: Option<Boundary>,
) -> Result<(String, Vec<LineEdit>), String> {
    crate::tools::diff::apply_to_text(before, diff, boundary)
}

/// `multi_edit_file`'s matching on text (`edit_file` is the one-edit case): each `(old_text, new_text)` applied
/// in order, each old text required to match exactly once, within `boundary` as the edits move it.
pub fn edit(
    content: &str,
    edits: &[(&str, &str)],
    boundary: Option<Boundary>,
) -> Result<(String, Vec<LineEdit>), String> {
    crate::tools::edit::edit_text(content, edits, boundary, "the file")
}
