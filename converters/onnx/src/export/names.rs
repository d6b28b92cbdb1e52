//! ONNX value names for the export: one model-wide set (ONNX graphs are single-assignment
//! across subgraph scopes), exact names for graph inputs and outputs, fresh `base_N` names
//! where a name is empty or already taken.

use std::collections::HashSet;

/// The names used so far in the whole model.
#[derive(Default)]
pub(crate) struct Names {
    used: HashSet<String>,
}

impl Names {
    /// Marks `name` as taken (graph input/output names, which must stay exact).
    pub fn reserve(&mut self, name: &str) {
        self.used.insert(name.to_string());
    }

    /// `want` if free, else `want_1`, `want_2`, …; `fallback` when `want` is empty.
    pub fn claim(&mut self, want: &str, fallback: &str) -> String {
        let base = if want.is_empty() { fallback } else { want };
        let base = if base.is_empty() { "v" } else { base };
        if self.used.insert(base.to_string()) {
            return base.to_string();
        }
        let mut k = 1usize;
        loop {
            let cand = format!("{base}_{k}");
            if self.used.insert(cand.clone()) {
                return cand;
            }
            k += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_unique() {
        let mut n = Names::default();
        n.reserve("x");
        assert_eq!(n.claim("x", ""), "x_1");
        assert_eq!(n.claim("x", ""), "x_2");
        assert_eq!(n.claim("", "relu"), "relu");
        assert_eq!(n.claim("", ""), "v");
    }
}
