//! The rendered HTML against the size budget (Gmail clips messages above ~102 KB).

use std::path::Path;

use super::Family;
use crate::check::scan::line_range;
use crate::check::{Diagnostic, RuleDef, Severity};
use crate::issue::Issue;
use crate::render::{self, Theme};

/// `size-budget`: rendered HTML over the size budget
pub const SIZE_BUDGET: RuleDef = RuleDef {
    name: "size-budget",
    severity: Severity::Warning,
    summary: "rendered HTML over the size budget",
};

pub(crate) const FAMILY: Family = Family {
    rules: &[&SIZE_BUDGET],
    run: |cx, out| {
        if let Some(theme) = &cx.opts.theme {
            size_rule(cx.path, cx.text, theme, cx.opts.budget, out);
        }
    },
};

pub(crate) fn budget_diag(text: &str, size: usize, budget: usize) -> Diagnostic {
    let first = line_range(text, 1);
    SIZE_BUDGET.diag(first,
        format!("the rendered HTML is {size} bytes, over the budget of {budget} bytes; Gmail clips messages above ~102 KB"),
    )
    .label("this issue")
    .help("shorten the issue, or move long lists to the web version and link to it")
}

fn size_rule(path: &Path, text: &str, theme: &Theme, budget: usize, out: &mut Vec<Diagnostic>) {
    let Ok(issue) = Issue::parse(path, text.as_bytes()) else {
        return;
    };
    let Ok(rendered) = render::render(&issue, theme) else {
        return;
    };
    let size = rendered.html_len(&render::sample_unsubscribe_url(&theme.site));
    if size > budget {
        out.push(budget_diag(text, size, budget));
    }
}
