//! Spend governance across a session tree: each session has a budget node holding its own usage, the usage of its
//! whole subtree, and its limits (`max_cost`, `max_tokens_total`). Usage is recorded after every model call on the
//! node and all its ancestors, and a model call is made only while no node on the way to the root has reached a
//! limit, so a sub-agent cannot spend past its parent's budget.

use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::sync::lock;
use crate::vocab::content::Usage;
use crate::vocab::settings::BudgetStop;

/// A node's limits; `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Limits {
    /// USD for the subtree.
    pub max_cost: Option<f64>,
    /// Tokens (input, output, cache reads and writes) for the subtree.
    pub max_tokens_total: Option<u64>,
}

impl Limits {
    /// Checks the limits a host gives.
    pub fn validate(&self) -> Result<()> {
        if let Some(c) = self.max_cost {
            if !(c.is_finite() && c > 0.0) {
                return Err(Error::invalid("max_cost must be a positive number of USD"));
            }
        }
        if self.max_tokens_total == Some(0) {
            return Err(Error::invalid("max_tokens_total must be at least 1"));
        }
        Ok(())
    }

    /// `{"max_cost": x|null, "max_tokens_total": n|null}` as the host writes it; a key left out keeps `self`'s.
    pub fn updated(&self, json: &Value) -> Result<Limits> {
        let obj = json
            .as_object()
            .ok_or_else(|| Error::invalid("the budget must be a JSON object"))?;
        let mut out = *self;
        for (k, v) in obj {
            match (k.as_str(), v) {
                ("max_cost", Value::Null) => out.max_cost = None,
                ("max_cost", v) => {
                    out.max_cost = Some(v.as_f64().ok_or_else(|| {
                        Error::invalid("max_cost must be a positive number of USD or null")
                    })?)
                }
                ("max_tokens_total", Value::Null) => out.max_tokens_total = None,
                ("max_tokens_total", v) => {
                    out.max_tokens_total = Some(v.as_u64().ok_or_else(|| {
                        Error::invalid("max_tokens_total must be a positive integer or null")
                    })?)
                }
                (other, _) => {
                    return Err(Error::invalid(format!(
                        "unknown budget key {other:?}; expected max_cost or max_tokens_total"
                    )))
                }
            }
        }
        out.validate()?;
        Ok(out)
    }
}

/// Tokens a usage counts against `max_tokens_total`.
pub fn tokens(u: &Usage) -> u64 {
    u.input + u.output + u.cache_read + u.cache_write
}

/// A node's numbers. Nodes point up (a [`Budget`] holds its parent) and these point down (a parent's holds its
/// children's), never both ways, so a tree frees itself; a stopped sub-agent's numbers stay in its parent's report.
#[derive(Debug, Default)]
struct Inner {
    session_id: String,
    limits: Limits,
    own: Usage,
    tree: Usage,
    children: Vec<Arc<Mutex<Inner>>>,
}

impl Inner {
    /// The first of this node's own limits its tree has reached.
    fn reached(&self) -> Option<BudgetStop> {
        let tokens = tokens(&self.tree);
        let stop = |limit: &str, spent: f64, allowed: f64| BudgetStop {
            limit: limit.into(),
            budget_session_id: self.session_id.clone(),
            spent,
            allowed,
            cost: self.tree.cost,
            tokens,
        };
        if let Some(max) = self.limits.max_cost.filter(|m| self.tree.cost >= *m) {
            return Some(stop("max_cost", self.tree.cost, max));
        }
        self.limits
            .max_tokens_total
            .filter(|m| tokens >= *m)
            .map(|max| stop("max_tokens_total", tokens as f64, max as f64))
    }
}

/// `node`'s report; `exhausted` is what binds it (`None`: its own limits).
fn report_of(node: &Arc<Mutex<Inner>>, exhausted: Option<Option<BudgetStop>>) -> Value {
    // No lock is held across the children's reports.
    let (head, children) = {
        let i = lock(node);
        let exhausted = exhausted.unwrap_or_else(|| i.reached());
        (
            json!({
                "session_id": i.session_id,
                "max_cost": i.limits.max_cost,
                "max_tokens_total": i.limits.max_tokens_total,
                "own": i.own,
                "tree": i.tree,
                "tree_tokens": tokens(&i.tree),
                "exhausted": exhausted,
            }),
            i.children.clone(),
        )
    };
    let mut head = head;
    head["children"] = Value::Array(children.iter().map(|c| report_of(c, None)).collect());
    head
}

/// One session's node in its tree's budget.
#[derive(Debug)]
pub struct Budget {
    parent: Option<Arc<Budget>>,
    inner: Arc<Mutex<Inner>>,
}

impl Budget {
    /// The node of session `session_id` under `parent` (`None`: a root), with `limits` and the usage the session
    /// already had (a resumed conversation's), which counts for its ancestors too.
    pub fn new(
        session_id: &str,
        parent: Option<Arc<Budget>>,
        limits: Limits,
        spent: &Usage,
    ) -> Arc<Budget> {
        let inner = Arc::new(Mutex::new(Inner {
            session_id: session_id.into(),
            limits,
            ..Inner::default()
        }));
        if let Some(p) = &parent {
            lock(&p.inner).children.push(inner.clone());
        }
        let node = Arc::new(Budget { parent, inner });
        node.record(spent);
        node
    }

    /// Adds one model call's usage to this session and every subtree it is in.
    pub fn record(&self, u: &Usage) {
        lock(&self.inner).own.add(u);
        let mut at = Some(self);
        while let Some(node) = at {
            lock(&node.inner).tree.add(u);
            at = node.parent.as_deref();
        }
    }

    /// The first limit reached on the way from this node to the root, `None` while every node is under its limits.
    pub fn exhausted(&self) -> Option<BudgetStop> {
        let mut at = Some(self);
        while let Some(node) = at {
            if let Some(stop) = lock(&node.inner).reached() {
                return Some(stop);
            }
            at = node.parent.as_deref();
        }
        None
    }

    /// Replaces this node's limits (the host's runtime change).
    pub fn set_limits(&self, limits: Limits) {
        lock(&self.inner).limits = limits;
    }

    /// This node's limits.
    pub fn limits(&self) -> Limits {
        lock(&self.inner).limits
    }

    /// `{session_id, max_cost, max_tokens_total, own, tree, tree_tokens, exhausted, children: [...]}`: this node
    /// (`exhausted`: the first limit reached from it up to the root) and its subtree, each sub-agent (also stopped
    /// ones) with its own and its subtree's usage (`exhausted`: its own limits).
    pub fn report(&self) -> Value {
        report_of(&self.inner, Some(self.exhausted()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(tokens: u64, cost: f64) -> Usage {
        Usage {
            input: tokens,
            cost,
            ..Usage::default()
        }
    }

    #[test]
    fn a_child_spends_from_its_ancestors_budget_and_cannot_escape_it() {
        let root = Budget::new(
            "root",
            None,
            Limits {
                max_cost: Some(1.0),
                max_tokens_total: None,
            },
            &usage(10, 0.25),
        );
        let child = Budget::new(
            "child",
            Some(root.clone()),
            Limits::default(),
            &Usage::default(),
        );
        let grandchild = Budget::new(
            "gc",
            Some(child.clone()),
            Limits::default(),
            &Usage::default(),
        );
        grandchild.record(&usage(100, 0.5));
        assert!(grandchild.exhausted().is_none());
        child.record(&usage(100, 0.25));
        let stop = grandchild
            .exhausted()
            .expect("the root's limit binds its grandchild");
        assert_eq!(stop.limit, "max_cost");
        assert_eq!(stop.budget_session_id, "root");
        assert_eq!(stop.tokens, 210);
        let r = root.report();
        assert_eq!(r["own"]["cost"], 0.25);
        assert_eq!(r["tree"]["cost"], 1.0);
        assert_eq!(r["children"][0]["own"]["cost"], 0.25);
        assert_eq!(r["children"][0]["tree"]["cost"], 0.75);
        assert_eq!(r["children"][0]["children"][0]["session_id"], "gc");
        // Raised at runtime, the tree goes on; a token limit on the child stops only its subtree.
        root.set_limits(Limits {
            max_cost: Some(5.0),
            ..Limits::default()
        });
        assert!(grandchild.exhausted().is_none());
        child.set_limits(
            root.limits()
                .updated(&json!({"max_tokens_total": 200}))
                .unwrap(),
        );
        assert_eq!(grandchild.exhausted().unwrap().limit, "max_tokens_total");
        assert!(root.exhausted().is_none());
    }

    #[test]
    fn updates_refuse_bad_limits() {
        let l = Limits::default();
        for bad in [
            json!([]),
            json!({"max_cost": -1}),
            json!({"max_cost": "x"}),
            json!({"max_tokens_total": 0}),
            json!({"max_tokens_total": 1.5}),
            json!({"other": 1}),
        ] {
            assert!(l.updated(&bad).is_err(), "{bad}");
        }
        let set = l
            .updated(&json!({"max_cost": 2, "max_tokens_total": 10}))
            .unwrap();
        assert_eq!(
            set.updated(&json!({"max_cost": null}))
                .unwrap()
                .max_tokens_total,
            Some(10)
        );
    }
}
